#!/usr/bin/env python3
"""amiforge test emulator: moto (as a library) + AMI-copy realism + fault injection, on 127.0.0.1.

What this file owns
-------------------
* ONE process.  moto's own WSGI app (``DomainDispatcherApplication(create_backend_app)``, exactly what
  ``moto_server`` serves) is wrapped in :class:`EmulatorMiddleware` and served by werkzeug's threaded
  server.  No separate moto_server, no network access, 127.0.0.1 only.
* A handful of documented monkey patches of moto 5.2.1's EC2 models/responses (see
  :func:`install_moto_patches`; each block is labelled "EXT n").  They make moto behave like AWS where
  amiforge cares:
    EXT 1  CopyImage copies are ``pending`` for ``copy_seconds`` (their snapshot ``pending`` with a
           linearly growing ``progress``), then ``available``/``completed``.  Computed from the clock on
           every read, so no background threads.
    EXT 2  CopyImage honours ``Encrypted``/``KmsKeyId`` (resolved in the destination region; unknown key
           -> ``InvalidKMSKey.NotFound`` and nothing is created; no key -> region's ``alias/aws/ebs``).
    EXT 3  CopyImage ``ClientToken`` idempotency (same token+params -> same ImageId; different params
           -> ``IdempotentParameterMismatch``).
    EXT 4  Enable/DisableImageDeprecation (moto: 500) store/clear ``DeprecationTime``;
           DescribeImageAttribute ``imdsSupport``/``lastLaunchedTime`` no longer 500;
           RegisterImage/ModifyImageAttribute ``ImdsSupport`` and ModifyImageAttribute ``Description``
           are stored.
    EXT 5  Tags: CopyImage copies no tags (unless ``CopyImageTags=true``) and honours
           ``TagSpecifications`` for image and snapshot; CreateImage accepts ``snapshot``
           TagSpecifications (moto: 500).  DescribeImages block-device mappings report ``Encrypted``.
    EXT 7  ``--seed-amis FILE`` loads a known AMI list (optionally per region) instead of moto's ~1,300.
    EXT 8  Image attributes: ``EnaSupport`` (new), ``BootMode``, ``ImdsSupport`` can be seeded, are set
           by RegisterImage, and are inherited by CopyImage copies and by CreateImage images (through
           the instance, which takes them from its AMI; ModifyInstanceAttribute ``EnaSupport`` /
           ``SriovNetSupport`` are stored instead of wiping the instance's security groups as moto
           does).  ``POST /__emulator/image`` overrides them and ``CreationDate`` on an existing image.
    EXT 9  Instance lifecycle: ``pending`` for ``launch_seconds``, then ``running``; status checks
           ``initializing`` for ``status_seconds``, then ``ok`` (or ``impaired``/``stuck`` per
           ``instance_faults``), all by the clock.  RunInstances ``ClientToken`` idempotency.
           DeleteSecurityGroup of a group a non-terminated instance uses -> ``DependencyViolation``.
    EXT 10 ``key_material`` (an OpenSSH/PEM private key): CreateKeyPair hands out that key instead of
           a random one, so keys a run makes are accepted by a test's SSH target.
    EXT 11 ``ssm_exec`` ({host, port, user, key} on loopback): SSM SendCommand ``AWS-RunShellScript``
           runs its commands over ssh on that target in the background (``InProgress`` until done),
           only for running instances (else ``InvalidInstanceId``); GetCommandInvocation returns the
           exit code and the output cut at 24,000 / 8,000 characters, as AWS does.
    EXT 12 ``consistency`` ({min_seconds, max_seconds}): EC2's eventual consistency.  New ids of
           CopyImage/CreateImage/RunInstances/CreateSecurityGroup/CreateKeyPair answer NotFound when
           named, and are left out of filtered describes, for a randomized window (consistency.py);
           ``consistency_exempt_agents`` (User-Agent substrings) leaves what those clients create
           visible.
* The fault-injection / control API under ``/__emulator/`` (EXT 6), never forwarded to moto.

CLI:  python3 emulator.py --port PORT [--copy-seconds N] [--seed-amis FILE] [--seed N]
                          [--consistency MIN:MAX] [--moto-default-amis] [--no-ami-validation]
                          [--verbose]
Prints exactly ``EMULATOR READY 127.0.0.1:PORT`` on stdout once it accepts requests (``--port 0`` picks a
free port; the line tells which).  SIGTERM/SIGINT -> clean exit 0.  See README.md for the control API.
"""
from __future__ import annotations

import argparse
import copy
import gzip
import http
import io
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import consistency

# --------------------------------------------------------------------------------------------------
# Global emulator state (shared by the middleware and the moto patches)
# --------------------------------------------------------------------------------------------------

FAULT_KINDS = ("throttle", "error5xx", "latency", "drop", "error")
LOG_LIMIT = 100_000          # request-log entries kept (oldest dropped first)


class EmulatorState:
    """Runtime-settable knobs + request log.  All mutation happens under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.copy_seconds = 0.0
        self.seed = 1
        self.rng = random.Random(1)
        self.faults: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        # EXT 3: (account, region, client_token) -> (fingerprint, image_id)
        self.copy_tokens: dict[tuple[str, str, str], tuple[tuple, str]] = {}
        # EXT 9: instance lifecycle knobs (read once per RunInstances) + RunInstances ClientTokens
        self.launch_seconds = 0.0
        self.status_seconds = 0.0
        self.instance_faults: list[dict[str, str]] = []
        self.run_tokens: dict[tuple[str, str, str], tuple[str, str]] = {}
        # EXT 10: private key text every CreateKeyPair returns (None: moto's random keys)
        self.key_material: str | None = None
        # EXT 11: where SSM Run Command executes ({"host", "port", "user", "key", "ssh"}; None: moto's
        # canned "Success" with no output)
        self.ssm_exec: dict[str, Any] | None = None

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)


STATE = EmulatorState()


# --------------------------------------------------------------------------------------------------
# moto patches.  Imported lazily: moto reads some env vars (AMI validation) at import time.
# --------------------------------------------------------------------------------------------------

def _pending_fraction(obj: Any) -> float | None:
    """Fraction (0..1) of a simulated copy done, or None if the object is not (or no longer) copying."""
    start = obj.__dict__.get("_emu_copy_start")
    duration = obj.__dict__.get("_emu_copy_seconds") or 0.0
    if start is None or duration <= 0:
        return None
    frac = (time.monotonic() - start) / duration
    return None if frac >= 1.0 else max(frac, 0.0)


def _iso_ms(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# EXT 8: image attributes AWS keeps on CopyImage / CreateImage copies, and their valid values.
IMAGE_ATTRS = ("ena_support", "boot_mode", "imds_support")
BOOT_MODES = ("legacy-bios", "uefi", "uefi-preferred")
IMDS_SUPPORT = ("v2.0",)


def check_image_attr(key: str, value: Any) -> Any:
    """Validated value of an EXT 8 image attribute (None = unset); ValueError when invalid."""
    if key == "ena_support" and value is not None and not isinstance(value, bool):
        raise ValueError(f"ena_support must be true, false or null, got {value!r}")
    if key == "boot_mode" and value is not None and value not in BOOT_MODES:
        raise ValueError(f"boot_mode must be one of {BOOT_MODES} or null, got {value!r}")
    if key == "imds_support" and value is not None and value not in IMDS_SUPPORT:
        raise ValueError(f"imds_support must be one of {IMDS_SUPPORT} or null, got {value!r}")
    return value


def copy_image_attrs(dst: Any, src: Any) -> None:
    """EXT 8: dst gets src's ena_support / boot_mode / imds_support (src: an Ami or an Instance)."""
    for key in IMAGE_ATTRS:
        setattr(dst, key, getattr(src, key, None))


# EXT 9: instance lifecycle.  An instance's InstanceState carries `_emu_running_at` (monotonic time it
# turns running) while launching; the Instance carries its status window and fault (see run_instances).
INSTANCE_FAULT_STATUSES = ("impaired", "stuck")


def _launching(state: Any) -> bool:
    running_at = state.__dict__.get("_emu_running_at")
    return running_at is not None and time.monotonic() < running_at


def _reachability(status: str, detail: str, since: datetime | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"Name": "reachability", "Status": detail}
    if since is not None:
        item["ImpairedSince"] = since
    return {"Status": status, "Details": [item]}


def instance_check(inst: Any, system: bool) -> dict[str, Any]:
    """InstanceStatus (system=False) / SystemStatus (system=True) of DescribeInstanceStatus, by clock."""
    if inst.state_code != 16:                       # pending, stopped, terminated, ...
        return {"Status": "not-applicable"}
    fault = inst.__dict__.get("_emu_fault")
    ready_at = inst.__dict__.get("_emu_ready_at")   # running_at + status_seconds
    if fault == "stuck" or (ready_at is not None and time.monotonic() < ready_at):
        return _reachability("initializing", "initializing")
    if fault == "impaired" and not system:
        return _reachability("impaired", "failed", inst.__dict__.get("_emu_impaired_since"))
    return _reachability("ok", "passed")


def install_moto_patches(seed_amis: list[dict[str, Any]] | None) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, MalformedAMIIdError
    from moto.ec2.models import amis as amis_mod
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami, AmiBackend
    from moto.ec2.models.elastic_block_store import Snapshot
    from moto.ec2.responses.amis import AmisResponse
    from moto.kms.models import kms_backends

    def get_ami(backend: Any, ami_id: str) -> Any:
        if not ami_id or not ami_id.startswith("ami-"):
            raise MalformedAMIIdError([ami_id or ""])
        ami = backend.amis.get(ami_id)
        if ami is None:
            raise InvalidAMIIdError([ami_id])
        return ami

    # ---- EXT 1: time-based pending -> available / pending -> completed --------------------------
    # Ami.state and Snapshot.status become properties: moto keeps writing plain values (stored in
    # _emu_state/_emu_status), but while a simulated copy is running the getter reports "pending".
    def ami_state_get(self: Any) -> str:
        st = self.__dict__.get("_emu_state", "available")
        if st == "available" and _pending_fraction(self) is not None:
            return "pending"
        return st

    def ami_state_set(self: Any, value: str) -> None:
        self.__dict__["_emu_state"] = value

    Ami.state = property(ami_state_get, ami_state_set)

    def snap_status_get(self: Any) -> str:
        st = self.__dict__.get("_emu_status", "completed")
        if st == "completed" and _pending_fraction(self) is not None:
            return "pending"
        return st

    def snap_status_set(self: Any, value: str) -> None:
        self.__dict__["_emu_status"] = value

    def snap_progress_get(self: Any) -> str:
        frac = _pending_fraction(self)
        return "100%" if frac is None else f"{int(frac * 100)}%"

    Snapshot.status = property(snap_status_get, snap_status_set)
    Snapshot.progress = property(snap_progress_get)

    # New Image members the serializer picks up by snake_case name (None -> omitted from the XML).
    Ami.deprecation_time = None        # EXT 4  <deprecationTime>
    Ami.imds_support = None            # EXT 4  <imdsSupport>
    Ami.last_launched_time = None      # EXT 4  (never set; moto does not track launches)
    Ami.source_image_id = None         # EXT 1  <sourceImageId> on copies (as AWS does)
    Ami.source_image_region = None     # EXT 1  <sourceImageRegion>
    Ami.ena_support = None             # EXT 8  <enaSupport> (bool; boot_mode is moto's own <bootMode>)

    # EXT 5: block-device mappings report the snapshot's real encryption + size.
    def block_device_mappings(self: Any) -> list[dict[str, Any]]:
        snap = self.ebs_snapshot
        return [{
            "DeviceName": self.root_device_name,
            "Ebs": {
                "SnapshotId": snap.id,
                "VolumeSize": snap.volume_size,
                "DeleteOnTermination": False,
                "VolumeType": "standard",
                "Encrypted": bool(snap.encrypted),
            },
        }]

    Ami.block_device_mappings = property(block_device_mappings)

    # ---- EXT 7: seed AMIs (own loader: no mutation of shared dicts, optional per-region list) -----
    if seed_amis is not None:
        import inspect

        from moto.core.parse import default_timestamp_parser

        allowed = set(inspect.signature(Ami.__init__).parameters) - {"self", "ec2_backend", "instance",
                                                                     "source_ami"} | {"regions"}
        allowed |= set(IMAGE_ATTRS)    # EXT 8: set after construction (boot_mode is also an Ami arg)
        for entry in seed_amis:
            unknown = set(entry) - allowed
            if "ami_id" not in entry or unknown:
                raise SystemExit(f"--seed-amis: bad entry {entry!r}: needs ami_id; unknown keys "
                                 f"{sorted(unknown)}; allowed {sorted(allowed)}")
            try:
                for key in IMAGE_ATTRS:
                    check_image_attr(key, entry.get(key))
            except ValueError as e:
                raise SystemExit(f"--seed-amis: bad entry {entry!r}: {e}")

        def load_seeded(self: Any) -> None:
            for entry in seed_amis:
                kw = copy.deepcopy(entry)
                regions = kw.pop("regions", None)
                if regions and self.region_name not in regions:
                    continue
                kw.setdefault("owner_alias", "amazon")
                if isinstance(kw.get("creation_date"), str):
                    kw["creation_date"] = default_timestamp_parser(kw["creation_date"])
                attrs = {key: kw.pop(key) for key in IMAGE_ATTRS if key in kw}
                ami = Ami(self, **kw)
                for key, value in attrs.items():          # EXT 8
                    setattr(ami, key, value)
                self.amis[ami.id] = ami

        AmiBackend._load_amis = load_seeded
        amis_mod.AMIS = []

    # ---- EXT 5: CreateImage with TagSpecifications for "snapshot" (moto raises NotImplementedError) --
    # ---- EXT 8: ... and the image inherits ena_support/boot_mode/imds_support from the instance, which
    #             got them from its AMI at RunInstances (ena_support may be changed by
    #             ModifyInstanceAttribute EnaSupport, as Packer's amazon-ebs `ena_support` does).
    orig_create_image = AmiBackend.create_image

    def create_image(self: Any, instance_id: str, name: str, description: str,
                     tag_specifications: list[dict[str, Any]]) -> Any:
        snap_tags = [t for s in tag_specifications if s.get("ResourceType") == "snapshot"
                     for t in s.get("Tags", [])]
        rest = [s for s in tag_specifications if s.get("ResourceType") != "snapshot"]
        ami = orig_create_image(self, instance_id, name, description, tag_specifications=rest)
        for t in snap_tags:
            ami.ebs_snapshot.add_tag(t["Key"], t["Value"])
        copy_image_attrs(ami, self.get_instance(instance_id))
        return ami

    AmiBackend.create_image = create_image

    # ---- EXT 2 helpers: KMS key resolution in the destination region ---------------------------
    def resolve_kms_key(account: str, region: str, ref: str) -> Any:
        """Key object for a key id / key ARN / alias/NAME / alias ARN in `region`, or None."""
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) != 6 or parts[2] != "kms" or parts[3] != region or parts[4] != account:
                return None
        backend = kms_backends[account][region]
        try:
            key_id = backend.any_id_to_key_id(ref)   # lazily creates alias/aws/* keys
        except Exception:
            return None
        return backend.keys.get(key_id)

    def kms_error(ref: str) -> EC2ClientError:
        return EC2ClientError("InvalidKMSKey.NotFound",
                              f"The KMS key '{ref}' does not exist or is not accessible in this region.")

    def tags_from_specs(specs: list[dict[str, Any]], rtype: str) -> list[dict[str, str]]:
        return [t for s in specs or [] if s.get("ResourceType") == rtype for t in s.get("Tags", [])]

    # ---- EXT 1+2+3+5: CopyImage -------------------------------------------------------------------
    def copy_image(self: Any) -> ActionResult:
        source_image_id = self._get_param("SourceImageId")
        source_region = self._get_param("SourceRegion")
        name = self._get_param("Name")
        description = self._get_param("Description")
        encrypted = self._get_bool_param("Encrypted", False)
        kms_key_ref = self._get_param("KmsKeyId") or None        # Packer sends KmsKeyId="" -> absent
        client_token = self._get_param("ClientToken") or None
        copy_tags = self._get_bool_param("CopyImageTags", False)
        tag_specs = self._get_param("TagSpecifications", [])
        self.error_on_dryrun()

        backend = self.ec2_backend
        account, region = backend.account_id, backend.region_name

        # EXT 3: idempotency.  Checked first, like AWS (a replay never re-validates or re-creates).
        fingerprint = (source_image_id, source_region, name, description, encrypted, kms_key_ref,
                       copy_tags, json.dumps(tag_specs, sort_keys=True, default=str))
        if client_token:
            with STATE.lock:
                seen = STATE.copy_tokens.get((account, region, client_token))
            if seen is not None:
                if seen[0] != fingerprint:
                    raise EC2ClientError("IdempotentParameterMismatch",
                                         "Client token was already used with different parameters.")
                return ActionResult({"ImageId": seen[1]})

        # Source lookup (moto raises InvalidAMIID.NotFound; an unknown region would be a 500).
        try:
            source_backend = ec2_backends[account][source_region]
        except Exception:
            raise EC2ClientError("InvalidParameterValue",
                                 f"Invalid value '{source_region}' for SourceRegion.")
        source_ami = get_ami(source_backend, source_image_id)
        source_snap = source_ami.ebs_snapshot

        # EXT 2: decide the copy's encryption BEFORE creating anything (errors leave no image).
        if kms_key_ref and not encrypted:
            raise EC2ClientError("InvalidParameterDependency",
                                 "The parameter KmsKeyId requires the parameter Encrypted to be set.")
        if encrypted:
            key = resolve_kms_key(account, region, kms_key_ref or "alias/aws/ebs")
            if key is None:
                raise kms_error(kms_key_ref or "alias/aws/ebs")
            snap_encrypted, snap_kms = True, key.arn
        elif source_snap.encrypted:
            # Keep encryption.  Same region: same key.  Cross-region: the source key cannot be used in
            # the destination region, so AWS falls back to the destination's default EBS key.
            snap_encrypted = True
            if region == source_region and source_snap.kms_key_id:
                snap_kms = source_snap.kms_key_id
            else:
                snap_kms = resolve_kms_key(account, region, "alias/aws/ebs").arn
        else:
            snap_encrypted, snap_kms = False, None

        ami = backend.copy_image(source_image_id, source_region, name, description)
        ami.source_image_id = source_image_id
        ami.source_image_region = source_region
        copy_image_attrs(ami, source_ami)                         # EXT 8: AWS keeps these on copies
        snap = ami.ebs_snapshot
        snap.encrypted, snap.kms_key_id = snap_encrypted, snap_kms
        snap.volume.size = source_snap.volume_size
        snap.description = (f"Copied for DestinationAmi {ami.id} from SourceAmi {source_image_id} "
                            f"for SourceSnapshot {source_snap.id}. Task created on "
                            f"{_iso_ms(datetime.now(timezone.utc))}.")

        # EXT 1: simulated copy duration (global copy_seconds at the time of the call).
        with STATE.lock:
            seconds = STATE.copy_seconds
        if seconds > 0:
            started = time.monotonic()
            for obj in (ami, snap):
                obj._emu_copy_start, obj._emu_copy_seconds = started, seconds

        # EXT 5: no tags are copied unless CopyImageTags=true; TagSpecifications honoured.
        if copy_tags:
            for k, v in source_backend.tags.get(source_image_id, {}).items():
                if not k.startswith("aws:"):
                    ami.add_tag(k, v)
        for t in tags_from_specs(tag_specs, "image"):
            ami.add_tag(t["Key"], t["Value"])
        for t in tags_from_specs(tag_specs, "snapshot"):
            snap.add_tag(t["Key"], t["Value"])

        if client_token:
            with STATE.lock:
                STATE.copy_tokens[(account, region, client_token)] = (fingerprint, ami.id)
        return ActionResult({"ImageId": ami.id})

    AmisResponse.copy_image = copy_image

    # ---- EXT 4: deprecation ------------------------------------------------------------------------
    def parse_time(value: Any) -> datetime:
        if isinstance(value, datetime):
            dt = value
        else:
            text = str(value).strip()
            if re.fullmatch(r"\d+(\.\d+)?", text):
                dt = datetime.fromtimestamp(float(text), tz=timezone.utc)
            else:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)

    def enable_image_deprecation(self: Any) -> ActionResult:
        ami_id = self._get_param("ImageId")
        raw = self._get_param("DeprecateAt")
        self.error_on_dryrun()
        ami = get_ami(self.ec2_backend, ami_id)
        try:
            dt = parse_time(raw)
        except Exception:
            raise EC2ClientError("InvalidParameterValue",
                                 f"Value ({raw}) for parameter DeprecateAt is invalid.")
        # AWS: "If you specify a value for seconds, Amazon EC2 rounds the seconds to the nearest minute."
        dt = (dt + timedelta(seconds=30)).replace(second=0, microsecond=0)
        ami.deprecation_time = _iso_ms(dt)
        return ActionResult({"Return": True})

    def disable_image_deprecation(self: Any) -> ActionResult:
        ami_id = self._get_param("ImageId")
        self.error_on_dryrun()
        get_ami(self.ec2_backend, ami_id).deprecation_time = None
        return ActionResult({"Return": True})

    AmisResponse.enable_image_deprecation = enable_image_deprecation
    AmisResponse.disable_image_deprecation = disable_image_deprecation

    # ---- EXT 4: DescribeImageAttribute imdsSupport / lastLaunchedTime (moto: AttributeError -> 500) --
    orig_describe_attr = AmisResponse.describe_image_attribute
    own_attrs = {"imdsSupport": ("ImdsSupport", "imds_support"),
                 "lastLaunchedTime": ("LastLaunchedTime", "last_launched_time")}

    def describe_image_attribute(self: Any) -> ActionResult:
        attr = self._get_param("Attribute")
        if attr not in own_attrs:
            return orig_describe_attr(self)
        ami_id = self._get_param("ImageId")
        ami = get_ami(self.ec2_backend, ami_id)
        member, field = own_attrs[attr]
        value = getattr(ami, field)
        return ActionResult({"ImageId": ami_id, member: {"Value": value} if value else {}})

    AmisResponse.describe_image_attribute = describe_image_attribute

    # ---- EXT 4: ImdsSupport on RegisterImage / ModifyImageAttribute; Description on ModifyImageAttribute
    # ---- EXT 8: EnaSupport / BootMode on RegisterImage (moto ignores both)
    orig_register = AmisResponse.register_image
    orig_modify = AmisResponse.modify_image_attribute

    def register_image(self: Any) -> ActionResult:
        ena = self._get_bool_param("EnaSupport")
        boot_mode = self._get_param("BootMode") or None
        if boot_mode is not None and boot_mode not in BOOT_MODES:
            raise EC2ClientError("InvalidParameterValue",
                                 f"Value ({boot_mode}) for parameter BootMode is invalid.")
        result = orig_register(self)
        ami = self.ec2_backend.amis[result.result["ImageId"]]
        imds = self._get_param("ImdsSupport")
        if imds:
            ami.imds_support = imds
        ami.ena_support = ena
        if boot_mode is not None:
            ami.boot_mode = boot_mode
        return result

    def modify_image_attribute(self: Any) -> ActionResult:
        ami_id = self._get_param("ImageId")
        imds = (self._get_param("ImdsSupport") or {}).get("Value")
        desc = (self._get_param("Description") or {}).get("Value")
        if self._get_param("Attribute") == "description" and desc is None:
            desc = self._get_param("Value")
        if imds is not None or desc is not None:
            self.error_on_dryrun()
            ami = get_ami(self.ec2_backend, ami_id)
            if imds is not None:
                if imds != "v2.0":
                    raise EC2ClientError("InvalidParameterValue",
                                         f"Value ({imds}) for parameter ImdsSupport is invalid.")
                ami.imds_support = imds
            if desc is not None:
                ami.description = desc
            if not self._get_param("LaunchPermission") and not self._get_param("OperationType"):
                return EmptyResult()
        return orig_modify(self)

    AmisResponse.register_image = register_image
    AmisResponse.modify_image_attribute = modify_image_attribute

    install_instance_patches()
    install_key_and_command_patches()
    consistency.install_patches()            # EXT 12


def install_instance_patches() -> None:
    """EXT 9 (instance lifecycle, RunInstances ClientToken, DeleteSecurityGroup in use) and the
    instance side of EXT 8 (the image attributes an instance carries over to CreateImage)."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
    from moto.ec2.models.instances import Instance, InstanceBackend, InstanceState
    from moto.ec2.responses.instances import InstanceResponse
    from moto.ec2.responses.security_groups import SecurityGroups

    # ---- EXT 9: pending -> running by the clock ----------------------------------------------------
    # InstanceState.name/code become properties.  While `_emu_running_at` lies in the future a stored
    # running/16 reads as pending/0.  Any explicit transition moto makes (stop, terminate, start,
    # reboot: all assign `name`) ends the simulated launch, so a terminated instance is never pending.
    def state_name_get(self: Any) -> str:
        name = self.__dict__.get("_emu_name", "pending")
        return "pending" if name == "running" and _launching(self) else name

    def state_name_set(self: Any, value: str) -> None:
        self.__dict__["_emu_name"] = value
        self.__dict__.pop("_emu_running_at", None)

    def state_code_get(self: Any) -> int:
        code = self.__dict__.get("_emu_code", 0)
        return 0 if code == 16 and _launching(self) else code

    def state_code_set(self: Any, value: int) -> None:
        self.__dict__["_emu_code"] = value

    InstanceState.name = property(state_name_get, state_name_set)
    InstanceState.code = property(state_code_get, state_code_set)

    # ---- EXT 9: status checks initializing -> ok (or impaired / stuck) by the clock -----------------
    Instance.instance_status = property(lambda self: instance_check(self, system=False))
    Instance.system_status = property(lambda self: instance_check(self, system=True))

    # ---- EXT 8: instances carry their AMI's attributes (<enaSupport>, <bootMode> in DescribeInstances)
    Instance.ena_support = None
    Instance.boot_mode = None
    Instance.imds_support = None       # not serialized (no such Instance member); kept for CreateImage

    # ---- EXT 9 + EXT 8: RunInstances (backend level, so every launch path gets it) -----------------
    orig_run = InstanceBackend.run_instances

    def run_instances(self: Any, image_id: str, count: int, user_data: Any,
                      security_group_names: list[str], **kwargs: Any) -> Any:
        reservation = orig_run(self, image_id, count, user_data, security_group_names, **kwargs)
        with STATE.lock:   # values in effect now apply to these instances for their whole life
            launch, status = STATE.launch_seconds, STATE.status_seconds
            faults = list(STATE.instance_faults)
        now, wall = time.monotonic(), utcnow()
        for inst in reservation.instances:
            ami = self.amis.get(inst.image_id)
            if ami is not None:
                copy_image_attrs(inst, ami)
            fault = next((f["status"] for f in faults if f["region"] in ("*", self.region_name)
                          and f["ami"] in ("*", inst.image_id)), None)
            if launch > 0:
                inst._state._emu_running_at = now + launch
            inst._emu_ready_at = now + launch + status
            inst._emu_fault = fault
            inst._emu_impaired_since = wall + timedelta(seconds=launch + status)
        return reservation

    InstanceBackend.run_instances = run_instances

    # ---- EXT 9: RunInstances ClientToken idempotency (moto stores the token, launches again) -------
    orig_run_response = InstanceResponse.run_instances

    def run_instances_response(self: Any) -> ActionResult:
        token = self._get_param("ClientToken") or None
        if not token:
            return orig_run_response(self)
        backend = self.ec2_backend
        key = (backend.account_id, backend.region_name, token)
        fingerprint = json.dumps({k: v for k, v in self.params.items()
                                  if k not in ("ClientToken", "DryRun")}, sort_keys=True, default=str)
        with STATE.lock:
            seen = STATE.run_tokens.get(key)
        if seen is not None and seen[1] in backend.reservations:
            self.error_on_dryrun()
            if seen[0] != fingerprint:
                raise EC2ClientError("IdempotentParameterMismatch",
                                     "Client token was already used with different parameters.")
            return ActionResult(backend.reservations[seen[1]])
        result = orig_run_response(self)
        with STATE.lock:
            STATE.run_tokens[key] = (fingerprint, result.result.id)
        return result

    InstanceResponse.run_instances = run_instances_response

    # ---- EXT 8: ModifyInstanceAttribute EnaSupport / SriovNetSupport --------------------------------
    # moto has no handler for them and falls through to its security-group handler, which silently
    # REMOVES all of the instance's security groups.  Packer's amazon-ebs sends them for
    # `ena_support` / `sriov_support`.
    orig_modify_instance = InstanceResponse.modify_instance_attribute
    Instance.VALID_ATTRIBUTES = Instance.VALID_ATTRIBUTES | {"enaSupport"}   # DescribeInstanceAttribute

    def modify_instance_attribute(self: Any) -> Any:
        ena = (self._get_param("EnaSupport") or {}).get("Value")
        sriov = (self._get_param("SriovNetSupport") or {}).get("Value")
        attr, value = self._get_param("Attribute"), self._get_param("Value")
        if attr == "enaSupport":
            ena = str(value).lower() == "true"
        elif attr == "sriovNetSupport":
            sriov = value
        if ena is None and sriov is None:
            return orig_modify_instance(self)
        self.error_on_dryrun()
        inst = self.ec2_backend.get_instance(self._get_param("InstanceId"))
        if ena is not None:
            inst.ena_support = str(ena).lower() == "true"
        if sriov is not None:
            inst.sriov_net_support = sriov
        return EmptyResult()

    InstanceResponse.modify_instance_attribute = modify_instance_attribute

    # ---- EXT 9: DeleteSecurityGroup of a group a non-terminated instance uses -> DependencyViolation -
    orig_delete_sg = SecurityGroups.delete_security_group

    def delete_security_group(self: Any) -> ActionResult:
        backend = self.ec2_backend
        group_id, name = self._get_param("GroupId"), self._get_param("GroupName")
        self.error_on_dryrun()
        if group_id:
            group = backend.get_security_group_from_id(group_id)
        else:
            group = backend.get_security_group_by_name_or_id(name) if name else None
        users = [inst.id for inst in backend.all_instances() if inst.state != "terminated"
                 and group is not None and any(g.id == group.id for g in inst.security_groups)]
        if users:
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return orig_delete_sg(self)

    SecurityGroups.delete_security_group = delete_security_group


SSM_STDOUT_LIMIT, SSM_STDERR_LIMIT = 24_000, 8_000    # characters GetCommandInvocation returns


def key_details(material: str) -> dict[str, Any]:
    """EXT 10: fingerprint, private and public key of an OpenSSH/PEM private key text (ValueError when
    it is not one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from moto.ec2.utils import public_key_fingerprint, select_hash_algorithm

    data = material.encode()
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except Exception as e:  # noqa: BLE001 - any parse failure is bad input
        raise ValueError(f"key_material is not an unencrypted private key: {e}") from None
    public = key.public_key()
    return {
        "key_type": "ed25519" if isinstance(key, Ed25519PrivateKey) else "rsa",
        "fingerprint": public_key_fingerprint(public, select_hash_algorithm(public)),
        "material": data if data.endswith(b"\n") else data + b"\n",
        "material_public": public.public_bytes(encoding=serialization.Encoding.OpenSSH,
                                               format=serialization.PublicFormat.OpenSSH),
    }


def parse_ssm_exec(raw: Any) -> dict[str, Any] | None:
    """EXT 11: validated `ssm_exec` ({host, port, user, key[, ssh]}; null turns it off)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"host", "port", "user", "key", "ssh"}:
        raise ValueError("ssm_exec must be null or {host, port, user, key[, ssh]}")
    host, port, user, key = raw.get("host"), raw.get("port"), raw.get("user"), raw.get("key")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"ssm_exec.host must be a loopback address, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"ssm_exec.port must be 1-65535, got {port!r}")
    if not isinstance(user, str) or not re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]*", user):
        raise ValueError(f"ssm_exec.user must be a login name, got {user!r}")
    if not isinstance(key, str) or not os.path.isfile(key):
        raise ValueError(f"ssm_exec.key must be a private key file, got {key!r}")
    ssh = raw.get("ssh", "ssh")
    if not isinstance(ssh, str) or not ssh:
        raise ValueError("ssm_exec.ssh must be a program name or path")
    return {"host": host, "port": port, "user": user, "key": key, "ssh": ssh}


def run_invocation(target: dict[str, Any], script: str, timeout: float,
                   invocation: dict[str, Any]) -> None:
    """EXT 11 (background thread): runs `script` with sh as root on `target` over ssh and fills in
    `invocation` as the SSM agent would report it."""
    import subprocess

    cmd = [target["ssh"], "-F", "none", "-T", "-i", target["key"], "-p", str(target["port"]),
           "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR", f"{target['user']}@{target['host']}",
           "sh -s" if target["user"] == "root" else "sudo -n sh -s"]
    try:
        p = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=timeout)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if p.returncode == 255 and not out:      # ssh could not deliver it
            update = {"Status": "Failed", "StatusDetails": "Undeliverable", "ResponseCode": -1}
        else:
            update = {"Status": "Success" if p.returncode == 0 else "Failed",
                      "StatusDetails": "Success" if p.returncode == 0 else "Failed",
                      "ResponseCode": p.returncode}
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace")
        update = {"Status": "TimedOut", "StatusDetails": "ExecutionTimedOut", "ResponseCode": -1}
    except OSError as e:
        out, err = "", f"cannot run {target['ssh']}: {e}"
        update = {"Status": "Failed", "StatusDetails": "Undeliverable", "ResponseCode": -1}
    update["StandardOutputContent"] = out[:SSM_STDOUT_LIMIT]
    update["StandardErrorContent"] = err[:SSM_STDERR_LIMIT]
    update["ExecutionEndDateTime"] = datetime.now(timezone.utc).isoformat()
    with STATE.lock:
        invocation.update(update)


def install_key_and_command_patches() -> None:
    """EXT 10 (CreateKeyPair with configured material) and EXT 11 (SSM Run Command over ssh)."""
    from moto.ec2.exceptions import InvalidKeyPairDuplicateError
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.key_pairs import KeyPair, KeyPairBackend
    from moto.ssm.exceptions import SSMException
    from moto.ssm.models import SimpleSystemManagerBackend

    # ---- EXT 10 ------------------------------------------------------------------------------------
    orig_create_key_pair = KeyPairBackend.create_key_pair

    def create_key_pair(self: Any, name: str, key_type: str, tags: dict[str, str]) -> Any:
        with STATE.lock:
            material = STATE.key_material
        if material is None:
            return orig_create_key_pair(self, name, key_type, tags)
        if name in self.key_pairs:
            raise InvalidKeyPairDuplicateError(name)
        d = key_details(material)
        keypair = KeyPair(name, d["key_type"], fingerprint=d["fingerprint"], material=d["material"],
                          material_public=d["material_public"], tags=tags, ec2_backend=self)
        self.key_pairs[name] = keypair
        return keypair

    KeyPairBackend.create_key_pair = create_key_pair

    # ---- EXT 11 ------------------------------------------------------------------------------------
    orig_send_command = SimpleSystemManagerBackend.send_command

    def send_command(self: Any, **kwargs: Any) -> Any:
        with STATE.lock:
            target = STATE.ssm_exec
        if target is None:
            return orig_send_command(self, **kwargs)
        ec2 = ec2_backends[self.account_id][self.region_name]
        running = {i.id for i in ec2.all_instances() if i.state == "running"}
        for iid in kwargs.get("instance_ids") or []:
            if iid not in running:
                raise SSMException("InvalidInstanceId",
                                    f"Instances [[{iid}]] not in a valid state for account {self.account_id}")
        command = orig_send_command(self, **kwargs)
        if kwargs.get("document_name") != "AWS-RunShellScript":
            return command
        params = kwargs.get("parameters") or {}
        script = "\n".join(params.get("commands") or [])
        try:
            timeout = float((params.get("executionTimeout") or ["3600"])[0])
        except ValueError:
            timeout = 3600.0
        for inv in command.invocations:
            with STATE.lock:
                inv.update(Status="InProgress", StatusDetails="InProgress", ResponseCode=-1)
            threading.Thread(target=run_invocation, args=(target, script, timeout, inv),
                             name="emulator-ssm-exec", daemon=True).start()
        return command

    SimpleSystemManagerBackend.send_command = send_command


# --------------------------------------------------------------------------------------------------
# EXT 6: WSGI middleware -- control API, request log, fault injection
# --------------------------------------------------------------------------------------------------

_CRED_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_TARGET_SERVICES = {"TrentService": "kms", "AmazonSSM": "ssm"}
_JSON_INTERNAL = {"kms": "KMSInternalException", "ssm": "InternalServerError"}


class DropConnection(ConnectionAbortedError):
    """Raised after shutting the socket down; werkzeug treats ConnectionError as 'client went away'."""


def _read_body(environ: dict[str, Any]) -> bytes:
    """Buffer the request body and put it back so moto can read it again."""
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0 and stream is not None:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated") and stream is not None:
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _classify(environ: dict[str, Any], body: bytes) -> tuple[str, str, str, bool, dict[str, Any]]:
    """(action, region, service, is_json_protocol, parameters) of an AWS API request (parameters:
    the query protocol's {name: [values]}, or the JSON body)."""
    region = service = ""
    m = _CRED_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        region, service = m.group(1), m.group(2).lower()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, action = target.partition(".")
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        return (action, region, service or _TARGET_SERVICES.get(prefix, prefix.lower()), True,
                doc if isinstance(doc, dict) else {})
    text = body
    if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        try:
            text = gzip.decompress(body)
        except OSError:
            pass
    params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params.update(urllib.parse.parse_qs(text.decode("utf-8", "replace")))
    action = (params.get("Action") or [""])[0]
    return action, region, service or "ec2", False, params


class EmulatorMiddleware:
    def __init__(self, moto_app: Any) -> None:
        self.moto_app = moto_app

    # ---- control API ---------------------------------------------------------------------------
    @staticmethod
    def _json(start_response: Any, status: int, payload: Any) -> list[bytes]:
        data = json.dumps(payload, indent=1).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))])
        return [data]

    def control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")[len("/__emulator/"):].strip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "health":
            return self._json(start_response, 200, {"ok": True, "t": STATE.now()})
        if path == "log" and method == "GET":
            with STATE.lock:
                return self._json(start_response, 200, list(STATE.log))
        if path == "reset-log" and method == "POST":
            with STATE.lock:
                STATE.log.clear()
            return self._json(start_response, 200, {"ok": True})
        if path == "config" and method == "GET":
            with STATE.lock:
                return self._json(start_response, 200, {
                    "copy_seconds": STATE.copy_seconds, "seed": STATE.seed, "faults": STATE.faults,
                    "launch_seconds": STATE.launch_seconds, "status_seconds": STATE.status_seconds,
                    "instance_faults": STATE.instance_faults,
                    "key_material": None if STATE.key_material is None else "<set>",
                    "ssm_exec": STATE.ssm_exec, "consistency": consistency.shown()})
        if path == "consistency" and method == "GET":
            return self._json(start_response, 200, consistency.status())
        if path == "config" and method == "POST":
            try:
                cfg = json.loads(_read_body(environ) or b"{}")
                apply_config(cfg)
            except (ValueError, TypeError, KeyError) as e:
                return self._json(start_response, 400, {"error": str(e)})
            return self._json(start_response, 200, {"ok": True})
        if path == "image" and method == "POST":
            try:
                status, payload = override_image(json.loads(_read_body(environ) or b"{}"))
            except (ValueError, TypeError) as e:
                return self._json(start_response, 400, {"error": str(e)})
            return self._json(start_response, status, payload)
        if path == "reset" and method == "POST":
            reset_everything()
            return self._json(start_response, 200, {"ok": True})
        return self._json(start_response, 404, {"error": f"unknown control path {method} /{path}"})

    # ---- fault selection -----------------------------------------------------------------------
    @staticmethod
    def pick_faults(action: str, region: str, service: str) -> tuple[float, dict[str, Any] | None]:
        """(total latency ms, first non-latency fault that fires or None).  Rules apply in order."""
        latency_ms, chosen = 0.0, None
        with STATE.lock:
            for rule in STATE.faults:
                if rule["action"] not in ("*", action) or rule["region"] not in ("*", region) \
                        or rule["service"] not in ("*", service):
                    continue
                if rule["times"] is not None and rule["_fired"] >= rule["times"]:
                    continue
                if rule["rate"] is not None and STATE.rng.random() >= rule["rate"]:
                    continue
                rule["_fired"] += 1
                if rule["kind"] == "latency":
                    latency_ms += rule["latency_ms"]
                    continue
                chosen = rule
                break
        return latency_ms, chosen

    # ---- request path --------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__emulator/") or path == "/__emulator":
            return self.control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)

        body = _read_body(environ)
        action, region, service, is_json, params = _classify(environ, body)
        # EXT 12 first: a call EC2 answers NotFound never reaches the fault rules (nor uses them up)
        refused = consistency.refusal(action, region, service, params)
        latency_ms, fault = (0.0, None) if refused else self.pick_faults(action, region, service)
        entry: dict[str, Any] = {"t": STATE.now(), "action": action, "region": region,
                                 "service": service, "outcome": "ok", "status": None}
        if latency_ms:
            entry["latency_ms"] = latency_ms
            time.sleep(latency_ms / 1000.0)
        prefix = "latency+" if latency_ms else ""

        def record(outcome: str, status: int | None) -> None:
            entry["outcome"], entry["status"] = prefix + outcome, status
            with STATE.lock:
                STATE.log.append(entry)
                del STATE.log[:-LOG_LIMIT]

        if fault is not None and not fault.get("after"):
            if fault["kind"] == "drop":
                record("drop", None)
                self.drop(environ)
            return self.error_response(fault, is_json, service, start_response, record)
        if refused is not None:                                               # EXT 12
            return self.error_response(refused, is_json, service, start_response, record)

        captured: dict[str, Any] = {}

        def capture_start(status: str, headers: list, exc_info: Any = None) -> Any:
            captured["status"] = int(status.split()[0])
            if fault is None:
                return start_response(status, headers, exc_info)
            return lambda data: None   # "after" faults: moto's response is discarded

        consistency.CURRENT.action = action
        try:
            result = self.moto_app(environ, capture_start)
        finally:
            consistency.CURRENT.action = ""
        if action in consistency.CREATES:       # EXT 12: the ids it made are hidden for a while
            data = b"".join(result)
            if hasattr(result, "close"):
                result.close()
            consistency.register(action, region, captured.get("status"), data,
                                 environ.get("HTTP_USER_AGENT", ""))
            result = [data]
        if fault is None:
            record("ok", captured.get("status"))
            return result
        # "after": the request reached moto (state changed), the client never sees the answer.
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
        if fault["kind"] == "drop":
            record("drop-after", None)
            self.drop(environ)
        return self.error_response(fault, is_json, service, start_response,
                                   lambda o, s: record(o + "-after", s))

    @staticmethod
    def drop(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise DropConnection("emulator: injected connection drop")

    @staticmethod
    def error_response(fault: dict[str, Any], is_json: bool, service: str, start_response: Any,
                       record: Any) -> list[bytes]:
        kind = fault["kind"]
        if kind == "throttle":
            code = fault.get("code") or ("ThrottlingException" if is_json else "RequestLimitExceeded")
            status = fault.get("status") or 503
            message = "Rate exceeded" if is_json else "Request limit exceeded."
        elif kind == "error5xx":
            code = fault.get("code") or (_JSON_INTERNAL.get(service, "InternalFailure") if is_json
                                         else "InternalError")
            status = fault.get("status") or 500
            message = "An internal error has occurred"
        else:  # "error": caller-chosen code/status, e.g. a non-retryable InvalidParameterValue
            code = fault.get("code") or "InvalidParameterValue"
            status = fault.get("status") or 400
            message = "Injected error"
        message = fault.get("message") or message + " (injected by amiforge emulator)"
        request_id = str(uuid.uuid4())
        if is_json:
            data = json.dumps({"__type": code, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                       ("x-amzn-RequestId", request_id)]
        else:
            data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID>"
                    f"</Response>").encode()
            headers = [("Content-Type", "text/xml;charset=UTF-8")]
        headers.append(("Content-Length", str(len(data))))
        record(kind, status)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Injected"
        start_response(f"{status} {reason}", headers)
        return [data]


def _seconds(cfg: dict[str, Any], key: str) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    return float(value)


def parse_instance_faults(raw: Any) -> list[dict[str, str]]:
    """EXT 9: validated `instance_faults` rules ({"region", "ami", "status"}; region/ami default "*")."""
    if not isinstance(raw, list):
        raise ValueError("instance_faults must be a list")
    rules = []
    for rule in raw:
        if not isinstance(rule, dict) or set(rule) - {"region", "ami", "status"}:
            raise ValueError(f"instance fault rule {rule!r}: allowed keys are region, ami, status")
        region, ami, status = rule.get("region", "*"), rule.get("ami", "*"), rule.get("status")
        if status not in INSTANCE_FAULT_STATUSES:
            raise ValueError(f"instance fault status must be one of {INSTANCE_FAULT_STATUSES}, got {status!r}")
        if not isinstance(region, str) or not region:
            raise ValueError(f"instance fault region must be \"*\" or a region name, got {region!r}")
        if not isinstance(ami, str) or not (ami == "*" or ami.startswith("ami-")):
            raise ValueError(f"instance fault ami must be \"*\" or an ami-... id, got {ami!r}")
        rules.append({"region": region, "ami": ami, "status": status})
    return rules


def apply_config(cfg: dict[str, Any]) -> None:
    """POST /__emulator/config.  `faults` (if present) replaces the list; `seed` reseeds the RNG;
    `instance_faults` (if present) replaces that list.  EXT 9 keys are validated before anything changes."""
    if not isinstance(cfg, dict):
        raise ValueError("config must be a JSON object")
    lifecycle = {key: _seconds(cfg, key) for key in ("launch_seconds", "status_seconds") if key in cfg}
    instance_faults = parse_instance_faults(cfg["instance_faults"]) if "instance_faults" in cfg else None
    key_material = cfg.get("key_material")
    if key_material is not None:
        if not isinstance(key_material, str):
            raise ValueError("key_material must be a private key text or null")
        key_details(key_material)                     # EXT 10: refuse what is not a key, now
    ssm_exec = parse_ssm_exec(cfg["ssm_exec"]) if "ssm_exec" in cfg else None
    window = consistency.parse(cfg["consistency"]) if "consistency" in cfg else None   # EXT 12
    agents = (consistency.parse_exempt_agents(cfg["consistency_exempt_agents"])
              if "consistency_exempt_agents" in cfg else None)
    faults = None
    if "faults" in cfg:
        faults = []
        for raw in cfg["faults"]:
            kind = raw.get("kind")
            if kind not in FAULT_KINDS:
                raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {kind!r}")
            rate = raw.get("rate")
            if rate is not None and not 0 <= float(rate) <= 1:
                raise ValueError("rate must be within 0..1")
            times = raw.get("times")
            if kind == "latency" and not raw.get("latency_ms"):
                raise ValueError("latency fault needs latency_ms")
            rule = dict(raw)
            rule.update(action=raw.get("action", "*"), region=raw.get("region", "*"),
                        service=raw.get("service", "*"), kind=kind,
                        rate=None if rate is None else float(rate),
                        times=None if times is None else int(times),
                        latency_ms=float(raw.get("latency_ms") or 0), _fired=0)
            faults.append(rule)
    with STATE.lock:
        if "copy_seconds" in cfg:
            STATE.copy_seconds = max(0.0, float(cfg["copy_seconds"]))
        if faults is not None:
            STATE.faults = faults
        for key, value in lifecycle.items():
            setattr(STATE, key, value)
        if instance_faults is not None:
            STATE.instance_faults = instance_faults
        if "key_material" in cfg:
            STATE.key_material = key_material
        if "ssm_exec" in cfg:
            STATE.ssm_exec = ssm_exec
        if faults is not None or "seed" in cfg:
            STATE.seed = int(cfg.get("seed", 1))
            STATE.rng = random.Random(STATE.seed)
        seed = STATE.seed
    if "consistency" in cfg:
        consistency.configure(window, seed)
    if agents is not None:
        consistency.exempt(agents)


def override_image(cfg: Any) -> tuple[int, dict[str, Any]]:
    """EXT 8, POST /__emulator/image: overwrite attributes of an existing image (account 123456789012).
    -> (HTTP status, JSON payload); ValueError/TypeError -> 400."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.parse import default_timestamp_parser
    from moto.ec2.models import ec2_backends

    if not isinstance(cfg, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(cfg) - {"region", "image_id", "creation_date", *IMAGE_ATTRS}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; allowed: region, image_id, creation_date, "
                         f"{', '.join(IMAGE_ATTRS)}")
    region, image_id = cfg.get("region"), cfg.get("image_id")
    if not isinstance(region, str) or not isinstance(image_id, str):
        raise ValueError("region and image_id are required strings")
    changes = {key: check_image_attr(key, cfg[key]) for key in IMAGE_ATTRS if key in cfg}
    if "creation_date" in cfg:
        if not isinstance(cfg["creation_date"], str):
            raise ValueError("creation_date must be an ISO 8601 string")
        try:
            changes["creation_date"] = default_timestamp_parser(cfg["creation_date"])   # naive UTC
        except Exception:
            raise ValueError(f"creation_date {cfg['creation_date']!r} is not a timestamp")
    try:
        backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    except KeyError:
        raise ValueError(f"unknown region {region!r}")
    ami = backend.amis.get(image_id)
    if ami is None:
        return 404, {"error": f"image {image_id} not found in {region}"}
    with STATE.lock:
        for key, value in changes.items():
            setattr(ami, key, value)
    return 200, {"image_id": ami.id, "region": region,
                 "creation_date": ami.creation_date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                 **{key: getattr(ami, key) for key in IMAGE_ATTRS}}


def reset_everything() -> None:
    """POST /__emulator/reset: wipe moto state and all emulator state (copy/launch/status seconds back
    to 0, no faults, no ClientTokens)."""
    from moto.backends import get_backend
    for name in ("ec2", "kms", "ssm", "sts"):
        get_backend(name).reset()
    with STATE.lock:
        STATE.copy_tokens.clear()
        STATE.run_tokens.clear()
        STATE.log.clear()
        STATE.faults = []
        STATE.instance_faults = []
        STATE.key_material = None
        STATE.ssm_exec = None
        STATE.copy_seconds = STATE.launch_seconds = STATE.status_seconds = 0.0
        STATE.seed, STATE.rng = 1, random.Random(1)
    consistency.configure(None, 1)
    consistency.exempt(())


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------

def warm_up(dispatcher: Any) -> None:
    """Answer one read-only call per service in-process (bypassing the middleware, so nothing is
    logged): builds moto's Flask apps, the us-east-1 backends and botocore's service models now, so the
    first real call takes milliseconds instead of ~0.4 s.  Creates no resources."""
    from werkzeug.test import Client

    client = Client(dispatcher)
    calls = {"ec2": ("Action=DescribeRegions&Version=2016-11-15", None),
             "kms": ("{}", "TrentService.ListKeys"),
             "ssm": ("{}", "AmazonSSM.DescribeParameters")}
    for service, (body, target) in calls.items():
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=WARMUP/20200101/us-east-1/"
                                    f"{service}/aws4_request, SignedHeaders=host, Signature=0"}
        if target:
            headers["X-Amz-Target"] = target
            ctype = "application/x-amz-json-1.1"
        else:
            ctype = "application/x-www-form-urlencoded; charset=utf-8"
        client.post("/", data=body, headers=headers, content_type=ctype)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--copy-seconds", type=float, default=0.0, help="simulated CopyImage duration")
    ap.add_argument("--seed-amis", metavar="FILE", help="JSON list of AMIs present at start")
    ap.add_argument("--seed", type=int, default=1, help="initial fault RNG seed")
    ap.add_argument("--moto-default-amis", action="store_true",
                    help="load moto's ~1,300 default AMIs per region (slow; ignored with --seed-amis)")
    ap.add_argument("--no-ami-validation", action="store_true",
                    help="let RunInstances accept unknown AMI ids (moto default)")
    ap.add_argument("--consistency", metavar="MIN:MAX",
                    help="eventual consistency: new ids hidden for MIN..MAX seconds (EXT 12)")
    ap.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    args = ap.parse_args(argv)
    window = None
    if args.consistency:
        lo, sep, hi = args.consistency.partition(":")
        try:
            window = consistency.parse({"min_seconds": float(lo), "max_seconds": float(hi if sep else lo)})
        except ValueError as e:
            ap.error(f"--consistency: {e}")

    seed_amis = None
    if args.seed_amis:
        with open(args.seed_amis, encoding="utf-8") as f:
            seed_amis = json.load(f)
        if not isinstance(seed_amis, list):
            ap.error("--seed-amis must contain a JSON list")

    # moto reads these at import time -> set before the first moto import.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("MOTO_AMIS_PATH", None)
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "true" if args.moto_default_amis else "false"
    if args.no_ami_validation:
        os.environ.pop("MOTO_ENABLE_AMI_VALIDATION", None)
    else:
        os.environ["MOTO_ENABLE_AMI_VALIDATION"] = "true"

    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    install_moto_patches(seed_amis)
    apply_config({"copy_seconds": args.copy_seconds, "seed": args.seed})
    consistency.configure(window, args.seed)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    class Handler(WSGIRequestHandler):
        def log_request(self, *a: Any, **k: Any) -> None:
            if args.verbose:
                super().log_request(*a, **k)

    dispatcher = DomainDispatcherApplication(create_backend_app)
    warm_up(dispatcher)
    app = EmulatorMiddleware(dispatcher)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=Handler)
    server.daemon_threads = True
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="emulator-http", daemon=True)
    thread.start()
    print(f"EMULATOR READY 127.0.0.1:{server.server_port}", flush=True)
    # Callers may close their end of stdout after the READY line; stray prints (moto has a few) must
    # not hit a broken pipe inside a request, so everything else goes to stderr.
    sys.stdout = sys.stderr
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    # Skip interpreter teardown (GC of every moto backend takes ~0.5 s); nothing else needs flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
