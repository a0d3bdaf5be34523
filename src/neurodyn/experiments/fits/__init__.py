"""Experiments that fit the models to a user's recording (``neurodyn fit MODEL --data FILE``)."""
