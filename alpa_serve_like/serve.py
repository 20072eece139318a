"""The Ray Serve application: ``serve run alpa_serve_like.serve:app placement=placement.json``.

``app`` is a Serve application builder: ``serve run`` (and ``serve deploy`` with a config file,
``configs/serve_config.yaml``) call it with the ``key=value`` arguments. Arguments:

* ``placement``: a placement JSON file (from ``alpa-serve-like place``). Without it a placement is
  computed from the database and a declared expected load: ``models`` (``bert-tiny:2``),
  ``num_devices``, ``rate``, ``cv``, ``slo_scale``, ``policy`` (see ``runtime.auto_placement``).
* ``apps``: compound applications to serve at ``/v1/apps/{name}/infer``, comma-separated
  ``APP.json`` or ``APP.json@PLAN.json`` (``controllers.app_routes.read_app_entries``); served by
  the fused controller only.
* ``ingress``: ``fused`` (default: the controller serves HTTP itself, one hop less, but Serve's
  proxy holds requests while a lost controller restarts) or ``separate`` (a stateless FastAPI
  ``Ingress`` deployment forwards to the controller and answers 503 at once when the controller
  replica is lost); ``ingress_replicas``: the ingress's replicas (default 1). Both are
  ``RuntimeOptions`` fields.
* every field of ``RuntimeOptions`` (``device=cpu``, ``database=...``) and, flat, every field of its
  ``SchedulingOptions`` (``max_batch_size=4``, ``routing=shortest_queue``). With a placement file,
  ``profile_device`` and ``max_batch_size`` default to the plan's (said on stderr); another
  ``profile_device`` than the plan's re-checks memory and refuses if a group does not fit.

Files are read here, in the process that builds the app, and their contents travel to the
replicas, so relative paths work with ``serve run``; use absolute paths with ``serve deploy``.
Checkpoints (``checkpoint=PATH`` or ``checkpoint=MODEL=PATH,...``) are too big to travel: their
paths are made absolute and checked here, and each stage actor reads its own shard from the file.
"""
from __future__ import annotations

import sys
from dataclasses import fields

from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.runtime.auto_placement import ExpectedLoad, check_plan_device, plan_placement
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.options import RuntimeOptions, check_checkpoint_files, check_checkpoint_models
from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
from alpa_serve_like.scheduling.routing import effective_routing


def build_app(args: dict | None = None):
    """Build the Serve application (Ingress -> Controller) from ``serve run`` style arguments."""
    args = dict(args or {})
    placement_path = args.pop("placement", "")
    app_entries = _compound_apps(str(args.pop("apps", "")), args)
    load_keys = {f.name for f in fields(ExpectedLoad)}
    load_args = {k: args.pop(k) for k in list(args) if k in load_keys}
    placement = None
    if placement_path:
        if load_args:
            raise ValueError(f"give either placement= or an expected load ({sorted(load_args)}), not both")
        placement = Placement.load(placement_path)
        for line in defaults_from_plan(placement, args):
            print(line, file=sys.stderr)
    options = RuntimeOptions.from_args(args)
    routing = effective_routing(options.scheduling.routing, options.scheduling.discipline)
    if "routing" in args and routing != options.scheduling.routing:
        print(f"note: routing {options.scheduling.routing} is overridden under {options.scheduling.discipline}: "
              f"requests go to the group with the fewest outstanding requests ({routing})", file=sys.stderr)
    check_checkpoint_files(options)
    database = load_database(options.database)
    if placement is not None:
        check_plan_device(placement, database, options)
    else:
        placement = plan_placement(_typed_load(load_args), database, options.profile_device,
                                   options.scheduling.max_batch_size, options.seed)
    check_servable(placement)
    check_checkpoint_models(options, placement.models)
    profiles = instance_profiles(placement.models, database, options.profile_device)
    shipped = ProfilingDatabase()
    for profile in {p.name: p for p in profiles.values()}.values():
        shipped.add(profile)
    bound = (placement.to_dict(), options.to_dict(), shipped.to_plain())
    # Serve's own queue limits shed in the proxy, before a request costs a hop to the controller;
    # its 503 then carries our Retry-After too.
    limits = dict(max_ongoing_requests=options.max_ongoing_requests,
                  max_queued_requests=options.max_queued_requests,
                  backpressure_config={"retry_after_s": options.retry_after_s},
                  ray_actor_options=options.replica_actor_options())
    if options.ingress == "fused":
        from alpa_serve_like.controllers.serving_controller import ServingController

        if app_entries:
            from alpa_serve_like.controllers.app_routes import served_apps

            served_apps(app_entries, placement.models)  # a task no group serves fails here, before any actor
        return ServingController.options(**limits).bind(*bound, app_entries)
    from alpa_serve_like.controllers.controller import Controller
    from alpa_serve_like.controllers.ingress import Ingress

    # The same limits in front of the ingress: HTTP meets them first (the proxy's queue), and the
    # controller's then bound what the ingress replicas forward together. Each ingress replica keeps
    # one long-poll vigil call open on the controller (``runtime.controller_watch``): those slots come
    # on top, or a small ``max_ongoing_requests`` would leave no room for requests.
    vigils = options.ingress_replicas
    controller = Controller.options(**{**limits, "max_ongoing_requests": options.max_ongoing_requests + vigils}
                                    ).bind(*bound)
    return Ingress.options(num_replicas=options.ingress_replicas, **limits).bind(controller, list(placement.models),
                                                                                  options.to_dict())


def _compound_apps(arg: str, args: dict) -> list[dict]:
    """``apps=``: compound applications served at ``/v1/apps/{name}/infer`` (``controllers.app_routes``);
    only the fused controller serves them."""
    if not arg:
        return []
    if str(args.get("ingress", "fused")) != "fused":
        raise ValueError("apps= is served by the fused controller only; drop ingress=separate or set ingress=fused")
    from alpa_serve_like.controllers.app_routes import read_app_entries

    return read_app_entries(arg)


def defaults_from_plan(placement: Placement, args: dict) -> list[str]:
    """Fill ``profile_device`` and ``max_batch_size`` from the plan where the caller gave none, and
    say so (one line each)."""
    notes = []
    context = placement.context
    if "profile_device" not in args and context.device:
        args["profile_device"] = context.device
        notes.append(f"using device {context.device} from the plan")
    if "max_batch_size" not in args and context.max_batch_size is not None:
        args["max_batch_size"] = context.max_batch_size
        notes.append(f"using max_batch_size {context.max_batch_size} from the plan")
    return notes


def check_servable(placement: Placement) -> None:
    """Fail before any actor starts if a group is empty or names a model outside the zoo."""
    if not placement.groups:
        raise ValueError("the placement has no groups")
    for g, group in enumerate(placement.groups):
        if not group.models:
            raise ValueError(f"placement group {g} hosts no model; remove it or give it models")
        for model in group.models:
            instance_spec(model)


def _typed_load(raw: dict) -> ExpectedLoad:
    typed = {}
    for f in fields(ExpectedLoad):
        if f.name in raw:
            typed[f.name] = type(f.default)(raw[f.name])
    return ExpectedLoad(**typed)


app = build_app
"""``serve run alpa_serve_like.serve:app placement=...`` calls this builder with the arguments."""
