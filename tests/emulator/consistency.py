"""EXT 12 of the amiforge emulator: EC2's eventual consistency, on demand.

AWS documents it for the EC2 API: right after a create, calls that name the new id may answer
``…NotFound`` and filtered describes may leave it out, for a while.  moto is strongly consistent, so
without this no test would ever see it.  With ``consistency`` set (config or ``--consistency``):

* every id a successful create returns is *hidden* for a window drawn uniformly from
  ``[min_seconds, max_seconds]`` (its own seeded RNG, so fault rules fire as before):
  CopyImage and CreateImage (the image and its snapshot), RunInstances (each instance),
  CreateSecurityGroup (the group id), CreateKeyPair (the key name);
* while hidden, a request that *names* it (``ImageId``, ``SourceImageId``, ``InstanceId``,
  ``GroupId``, ``SecurityGroupId``, ``KeyName``, ``SnapshotId``, ``ResourceId``, each also as
  ``….N``; SSM ``InstanceIds``) is answered 400 with the resource's NotFound code
  (``InvalidAMIID.NotFound``, ``InvalidInstanceID.NotFound``, ``InvalidGroup.NotFound``,
  ``InvalidKeyPair.NotFound``, ``InvalidSnapshot.NotFound``; SSM ``InvalidInstanceId``) and
  **nothing is executed** (a delete does not delete; RunInstances launches nothing).  The creates
  themselves (CreateKeyPair/CreateSecurityGroup naming a name) are never refused;
* filtered describes (DescribeImages, DescribeInstances, DescribeInstanceStatus,
  DescribeSecurityGroups, DescribeKeyPairs, DescribeSnapshots) leave hidden resources out;
* the request log says ``consistency`` for a refused request;
* ``consistency_exempt_agents`` (config key, substrings of the User-Agent) leaves what those
  clients create visible at once.  The modern end-to-end tests exempt
  ``aws-sdk-go`` (the amazon plugin 1.8.2, a Go builder): it waits for its new and copied AMIs
  with the AWS SDK's ``ImageAvailable`` waiter, which does not retry ``InvalidAMIID.NotFound``
  (``builder/ebs/step_create_ami.go``, ``builder/common/step_ami_region_copy.go``), so its build
  would fail before amiforge runs; what amiforge (aws-sdk-rust) creates stays hidden as usual.

``GET /__emulator/consistency`` answers ``{"hidden": N, "visible_in": seconds}`` (how many ids are
hidden now and when the last becomes visible), so a test's own assertions can wait until the
emulator is consistent again.  ``null`` turns it off (hidden ids become visible at once).
"""
from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

# what a hidden id is, and the code a call naming it gets
NOT_FOUND = {
    "image": ("InvalidAMIID.NotFound", "The image id '[{}]' does not exist"),
    "snapshot": ("InvalidSnapshot.NotFound", "The snapshot '{}' does not exist."),
    "instance": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "group": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "key-pair": ("InvalidKeyPair.NotFound", "The key pair '{}' does not exist"),
}
# request parameters that name a resource (`Name` or `Name.N`) -> kind (None: by the id's prefix)
NAMING = {"ImageId": "image", "SourceImageId": "image", "InstanceId": "instance",
          "GroupId": "group", "SecurityGroupId": "group", "KeyName": "key-pair",
          "SnapshotId": "snapshot", "ResourceId": None}
PREFIXES = {"ami-": "image", "snap-": "snapshot", "i-": "instance", "sg-": "group"}
PARAM_RE = re.compile(r"^([A-Za-z]+?)(?:\.\d+)?$")
# creates whose new ids are hidden, and what their answer names
CREATES = {
    "CopyImage": (("image", re.compile(rb"<imageId>(ami-[0-9a-f]+)</imageId>")),),
    "CreateImage": (("image", re.compile(rb"<imageId>(ami-[0-9a-f]+)</imageId>")),),
    "RunInstances": (("instance", re.compile(rb"<instanceId>(i-[0-9a-f]+)</instanceId>")),),
    "CreateSecurityGroup": (("group", re.compile(rb"<groupId>(sg-[0-9a-f]+)</groupId>")),),
    "CreateKeyPair": (("key-pair", re.compile(rb"<keyName>([^<]+)</keyName>")),),
}
NEVER_REFUSED = {"CreateKeyPair", "CreateSecurityGroup", "ImportKeyPair"}


class Consistency:
    """The setting, the hidden ids and their RNG.  All mutation under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window: tuple[float, float] | None = None
        self.exempt_agents: tuple[str, ...] = ()       # User-Agent substrings whose creates are not
        self.rng = random.Random(1)
        # (region, kind, id or key name) -> monotonic time it becomes visible
        self.hidden: dict[tuple[str, str, str], float] = {}


EC = Consistency()
CURRENT = threading.local()        # the action of the request this thread serves (describe filtering)


def parse(raw: Any) -> tuple[float, float] | None:
    """Validated `consistency` ({"min_seconds", "max_seconds"}; null turns it off)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"min_seconds", "max_seconds"}:
        raise ValueError("consistency must be null or {min_seconds, max_seconds}")
    lo, hi = raw.get("min_seconds", 0), raw.get("max_seconds")
    for name, v in (("min_seconds", lo), ("max_seconds", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 3600:
            raise ValueError(f"consistency.{name} must be a number of seconds (0-3600), got {v!r}")
    if lo > hi:
        raise ValueError("consistency.min_seconds must not exceed max_seconds")
    return float(lo), float(hi)


def parse_exempt_agents(raw: Any) -> tuple[str, ...]:
    """Validated `consistency_exempt_agents`: a list of non-empty User-Agent substrings."""
    if not isinstance(raw, list) or not all(isinstance(a, str) and a for a in raw):
        raise ValueError("consistency_exempt_agents must be a list of User-Agent substrings")
    return tuple(raw)


def exempt(agents: tuple[str, ...]) -> None:
    with EC.lock:
        EC.exempt_agents = agents


def configure(window: tuple[float, float] | None, seed: int) -> None:
    with EC.lock:
        EC.window = window
        EC.rng = random.Random(seed)
        if window is None:
            EC.hidden.clear()


def shown() -> dict[str, float] | None:
    with EC.lock:
        return None if EC.window is None else {"min_seconds": EC.window[0],
                                               "max_seconds": EC.window[1]}


def status() -> dict[str, Any]:
    now = time.monotonic()
    with EC.lock:
        left = [t - now for t in EC.hidden.values() if t > now]
    return {"hidden": len(left), "visible_in": round(max(left, default=0.0), 3)}


def _hidden(region: str, kind: str, value: str, now: float) -> bool:
    until = EC.hidden.get((region, kind, value))
    if until is None:
        return False
    if now >= until:
        del EC.hidden[(region, kind, value)]
        return False
    return True


def visible(region: str, kind: str, value: str) -> bool:
    with EC.lock:
        return not _hidden(region, kind, value, time.monotonic())


def _named(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of every resource a query-protocol request names."""
    out = []
    for name, values in params.items():
        m = PARAM_RE.match(name)
        if not m or m.group(1) not in NAMING:
            continue
        for v in values if isinstance(values, list) else [values]:
            kind = NAMING[m.group(1)] or next((k for p, k in PREFIXES.items() if v.startswith(p)), None)
            if kind is not None:
                out.append((kind, v))
    return out


def refusal(action: str, region: str, service: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The fault answering a request that names a hidden resource (None: let it through)."""
    if action in NEVER_REFUSED:
        return None
    if service == "ssm":
        named = [("instance", v) for v in params.get("InstanceIds") or [] if isinstance(v, str)]
    elif service == "ec2":
        named = _named(params)
    else:
        return None
    now = time.monotonic()
    with EC.lock:
        if not EC.hidden:
            return None
        hit = next(((k, v) for k, v in named if _hidden(region, k, v, now)), None)
    if hit is None:
        return None
    kind, value = hit
    if service == "ssm":
        code, message = "InvalidInstanceId", f"Instances [[{value}]] not in a valid state for account"
    else:
        code, template = NOT_FOUND[kind]
        message = template.format(value)
    return {"kind": "consistency", "code": code, "status": 400, "message": message}


def register(action: str, region: str, status: int | None, body: bytes, agent: str = "") -> None:
    """Hides the ids a successful create answered with (a replayed ClientToken keeps its window)."""
    if status != 200 or action not in CREATES or any(a in agent for a in EC.exempt_agents):
        return
    found = [(kind, m.decode()) for kind, rx in CREATES[action] for m in rx.findall(body)]
    if action in ("CopyImage", "CreateImage"):
        found += [("snapshot", s) for _, ami in found for s in _snapshots_of(region, ami)]
    now = time.monotonic()
    with EC.lock:
        if EC.window is None:
            return
        lo, hi = EC.window
        for kind, value in found:
            EC.hidden.setdefault((region, kind, value), now + EC.rng.uniform(lo, hi))


def _snapshots_of(region: str, ami_id: str) -> list[str]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    ami = ec2_backends[DEFAULT_ACCOUNT_ID][region].amis.get(ami_id)
    snap = getattr(ami, "ebs_snapshot", None)
    return [snap.id] if snap is not None else []


def _keep(region: str, kind: str, key: Any) -> Any:
    """A filter for results of a describe being served: hidden ones left out."""
    def keep(items: list[Any]) -> list[Any]:
        if getattr(CURRENT, "action", "").startswith("Describe"):
            return [x for x in items if visible(region, kind, key(x))]
        return items
    return keep


def install_patches() -> None:
    """Filtered describes leave hidden resources out (only while serving a Describe* request, so
    moto's own internal lookups are unaffected)."""
    import copy

    from moto.ec2.models.amis import AmiBackend
    from moto.ec2.models.elastic_block_store import EBSBackend
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.models.key_pairs import KeyPairBackend
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def wrap(cls: Any, name: str, kind: str, key: Any) -> None:
        orig = getattr(cls, name)

        def describe(self: Any, *a: Any, **k: Any) -> Any:
            return _keep(self.region_name, kind, key)(orig(self, *a, **k))
        setattr(cls, name, describe)

    wrap(AmiBackend, "describe_images", "image", lambda x: x.id)
    wrap(EBSBackend, "describe_snapshots", "snapshot", lambda x: x.id)
    wrap(SecurityGroupBackend, "describe_security_groups", "group", lambda x: x.id)
    wrap(KeyPairBackend, "describe_key_pairs", "key-pair", lambda x: x.key_name)
    wrap(InstanceBackend, "describe_instance_status", "instance", lambda x: x.id)
    orig_reservations = InstanceBackend.describe_instances

    def describe_instances(self: Any, filters: Any = None) -> Any:
        keep = _keep(self.region_name, "instance", lambda x: x.id)
        out = []
        for r in orig_reservations(self, filters):
            r = copy.copy(r)
            r.instances = keep(list(r.instances))
            if r.instances:
                out.append(r)
        return out

    InstanceBackend.describe_instances = describe_instances
