"""The Ray Serve runtime: serve a Placement over HTTP with mesh groups of pipeline-stage actors.

Pieces, one concept each (the Ray Serve deployments themselves are in ``alpa_serve_like.controllers``,
the application builder in ``alpa_serve_like.serve``):

* ``options``          RuntimeOptions, every knob of a served placement
* ``controller_core``  the controller (Ray-free, unit-tested on fake groups), one module per concern:
                       ``admission`` (shed, route, admit), ``dispatch`` (dispatchers, doomed drops,
                       completion), ``recovery`` (failed groups), ``introspection`` (stats, health);
                       ``controller_state`` holds its bookkeeping values, ``overheads`` the
                       dispatch/hop/response overheads it learns online
* ``mesh_group``       one Ray placement group + one actor per (stage, op rank) per placement group
* ``stage_worker``     the stage actor: its slice of every hosted model, on CPU or its GPU
* ``requests``         the HTTP request format and its validation (400/404/413)
* ``stats`` / ``metrics``  ``/v1/stats`` JSON and Prometheus metrics (ray.serve.metrics)
* ``replay``           open-loop replay client (asyncio + aiohttp), TSV, simulator comparison
* ``calibration``      overheads and stage times a replay saw (proxy, queue, hops), for the simulator
* ``profiles`` / ``instances`` / ``auto_placement``  profiles, model instances, placement from load

Importing this package imports neither Ray nor torch; the modules that need them do.
"""
