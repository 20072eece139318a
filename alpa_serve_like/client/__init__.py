"""Clients of a running server: open-loop replay and its comparison with the simulator."""
