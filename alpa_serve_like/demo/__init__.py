"""The demo: a client that places, serves and replays tiny models end to end."""
