#!/usr/bin/env python3
"""Self-test for emulator.py: starts it on a free port, drives it with boto3, prints one ok:/FAIL: line
per check, exits 1 on any failure.  The emulator subprocess is ALWAYS stopped (SIGTERM, then SIGKILL).

    python3 tests/emulator/selftest.py            # needs boto3 + moto[server]==5.2.1 importable
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from typing import Any, Callable

import boto3
import botocore.exceptions
from botocore.config import Config

import selftest_consistency

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
SEED_LINUX, SEED_WIN = "ami-0e1a1a1a1a1a1a1a1", "ami-0e2b2b2b2b2b2b2b2"
SEED_AMIS = [
    {"ami_id": SEED_LINUX, "name": "seed-linux", "owner_id": "137112412989",
     "public": True, "virtualization_type": "hvm", "architecture": "x86_64",
     "root_device_type": "ebs", "creation_date": "2024-01-01T00:00:00.000Z",
     "ena_support": True, "imds_support": "v2.0", "boot_mode": "uefi"},
    {"ami_id": SEED_WIN, "name": "seed-windows-west2", "platform": "windows",
     "owner_id": "801119661308", "public": True, "regions": ["us-west-2"], "boot_mode": "legacy-bios"},
]

RESULTS: list[tuple[bool, str]] = []


def check(name: str, cond: bool, detail: str = "") -> bool:
    RESULTS.append((bool(cond), name))
    print(f"{'ok' if cond else 'FAIL'}: {name}" + (f" ({detail})" if detail else ""), flush=True)
    return bool(cond)


def section(name: str, fn: Callable[[], None]) -> None:
    """Run a group of checks; an unexpected exception is one FAIL line, not an abort."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        check(f"{name}: no unexpected exception", False, f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)


def err_code(e: Exception) -> tuple[str, int]:
    if isinstance(e, botocore.exceptions.ClientError):
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return type(e).__name__, 0


class Emu:
    def __init__(self, *extra: str) -> None:
        self.seed_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(SEED_AMIS, self.seed_file)
        self.seed_file.close()
        cmd = [sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0",
               "--seed-amis", self.seed_file.name, *extra]
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not line:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if r:
                line = self.proc.stdout.readline()
                if not line:
                    break
        self.ready_s = time.monotonic() - self.t_start
        if not line.startswith("EMULATOR READY 127.0.0.1:"):
            raise RuntimeError(f"emulator did not start: {line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}")
        self.ready_line = line.strip()
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, svc: str, region: str, retries: int = 1, mode: str = "legacy", **cfg: Any) -> Any:
        return boto3.client(svc, region_name=region, endpoint_url=self.url,
                            aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
                            config=Config(retries={"total_max_attempts": retries, "mode": mode}, **cfg))

    def control(self, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + "/__emulator/" + path, data=data,
                                     method="GET" if data is None and path in ("log", "health", "config", "consistency")
                                     else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")

    def control_status(self, path: str, payload: Any) -> int:
        """HTTP status of a control POST (errors included)."""
        try:
            return self.control(path, payload)[0]
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                return None
        os.unlink(self.seed_file.name)
        return self.proc.returncode


def wait_available(ec2: Any, image_id: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"]
        if state == "available":
            return state
        time.sleep(0.1)
    return state


def snapshot_of(ec2: Any, image_id: str) -> dict[str, Any]:
    img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    sid = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    return ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]


def own_image_ids(ec2: Any) -> set[str]:
    return {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}


def image_attrs(ec2: Any, image_id: str) -> dict[str, Any]:
    """The EXT 8 attributes DescribeImages reports (absent keys stay absent)."""
    img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    return {k: img[k] for k in ("EnaSupport", "BootMode", "ImdsSupport") if k in img}


def launch(ec2: Any, image_id: str, **kw: Any) -> dict[str, Any]:
    return ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, **kw)["Instances"][0]


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def instance_ids(ec2: Any, filters: list[dict[str, Any]]) -> set[str]:
    return {i["InstanceId"] for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]}


def instance_status(ec2: Any, instance_id: str, include_all: bool = False) -> list[dict[str, Any]]:
    return ec2.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=include_all)["InstanceStatuses"]


def client_error(fn: Callable[[], Any]) -> tuple[str, int]:
    """(code, HTTP status) of the ClientError fn raises, or ("no error", 200)."""
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return err_code(e)
    return "no error", 200


def run(emu: Emu) -> None:
    # a hang detector, not a speed target (a loaded CI machine took 3.8 s; bench/ measures speed)
    check("says READY (within 30 s)", emu.ready_s < 30.0, f"READY after {emu.ready_s:.2f} s: '{emu.ready_line}'")
    status, _ = emu.control("health")
    check("GET /__emulator/health -> 200", status == 200)

    use1, usw2, euw1 = (emu.client("ec2", r) for r in ("us-east-1", "us-west-2", "eu-west-1"))
    timings = {}
    for region, c in (("us-east-1", use1), ("us-west-2", usw2), ("eu-west-1", euw1)):
        t = time.monotonic()
        c.describe_images(Owners=["self"])
        timings[region] = time.monotonic() - t
    t = time.monotonic()
    use1.describe_images(Owners=["self"])
    warm = time.monotonic() - t
    check("first call per region is fast", max(timings.values()) < 3.0,
          ", ".join(f"{r} first {v*1000:.0f} ms" for r, v in timings.items()) + f", warm {warm*1000:.0f} ms")
    kms_t = time.monotonic()
    emu.client("kms", "ap-southeast-2").list_keys()
    ssm_t = time.monotonic()
    emu.client("ssm", "ap-southeast-2").describe_parameters()
    end_t = time.monotonic()
    check("first KMS / SSM call in a new region", True,
          f"kms {(ssm_t - kms_t)*1000:.0f} ms, ssm {(end_t - ssm_t)*1000:.0f} ms")

    # ---- seed AMIs + Packer-like flow --------------------------------------------------------
    def seeded() -> None:
        ids1 = {i["ImageId"] for i in use1.describe_images(Owners=["137112412989", "801119661308"])["Images"]}
        ids2 = {i["ImageId"] for i in usw2.describe_images(Owners=["137112412989", "801119661308"])["Images"]}
        check("--seed-amis: linux AMI in every region, 'regions' limits the other",
              ids1 == {"ami-0e1a1a1a1a1a1a1a1"} and ids2 == {"ami-0e1a1a1a1a1a1a1a1", "ami-0e2b2b2b2b2b2b2b2"},
              f"us-east-1={sorted(ids1)} us-west-2={sorted(ids2)}")
        try:
            use1.run_instances(ImageId="ami-0000000000000dead", MinCount=1, MaxCount=1)
            check("RunInstances with unknown AMI rejected", False)
        except botocore.exceptions.ClientError as e:
            check("RunInstances with unknown AMI rejected", err_code(e)[0] == "InvalidAMIID.NotFound", err_code(e)[0])

    section("seed", seeded)

    def packer_flow() -> None:
        t0 = time.monotonic()
        keys = {}
        for region in ("us-east-1", "us-west-2", "eu-west-1"):
            k = emu.client("kms", region).create_key(Description=f"golden {region}")["KeyMetadata"]
            keys[region] = k["Arn"]
        inst = use1.run_instances(ImageId="ami-0e1a1a1a1a1a1a1a1", MinCount=1, MaxCount=1,
                                  InstanceType="t3.micro")["Instances"][0]["InstanceId"]
        use1.describe_instances(InstanceIds=[inst])
        use1.stop_instances(InstanceIds=[inst])
        tmp = use1.create_image(InstanceId=inst, Name="packer-tmp-L6wLZ0z")["ImageId"]
        wait_available(use1, tmp)
        enc = use1.copy_image(SourceImageId=tmp, SourceRegion="us-east-1", Name="golden-1",
                              Encrypted=True, KmsKeyId=keys["us-east-1"])["ImageId"]
        wait_available(use1, enc)
        tmp_snap = use1.describe_images(ImageIds=[tmp])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        use1.deregister_image(ImageId=tmp)
        use1.delete_snapshot(SnapshotId=tmp_snap)
        copies = {"us-east-1": enc}
        for region, c in (("us-west-2", usw2), ("eu-west-1", euw1)):
            copies[region] = c.copy_image(SourceImageId=enc, SourceRegion="us-east-1", Name="golden-1",
                                          Encrypted=True, KmsKeyId=keys[region])["ImageId"]
        for region, c in (("us-east-1", use1), ("us-west-2", usw2), ("eu-west-1", euw1)):
            wait_available(c, copies[region])
            snap = snapshot_of(c, copies[region])
            c.create_tags(Resources=[copies[region]], Tags=[{"Key": "Name", "Value": "golden-1"}])
            c.create_tags(Resources=[snap["SnapshotId"]], Tags=[{"Key": "Name", "Value": "golden-1-snap"}])
            c.modify_image_attribute(ImageId=copies[region], LaunchPermission={"Add": [{"UserId": "210987654321"}]})
            snap = snapshot_of(c, copies[region])
            ok = snap["Encrypted"] and snap["KmsKeyId"] == keys[region] and \
                {"Key": "Name", "Value": "golden-1-snap"} in snap["Tags"]
            check(f"packer-like flow: {region} copy encrypted with region key, snapshot tagged", ok,
                  f"{copies[region]} {snap['KmsKeyId']}")
        use1.terminate_instances(InstanceIds=[inst])
        gone = use1.describe_images(ImageIds=[tmp])["Images"]
        check("packer-like flow: intermediate AMI deregistered, instance terminated", gone == [],
              f"{time.monotonic() - t0:.2f} s total")

    section("packer", packer_flow)

    # A source AMI made the way tests should make one.
    src = use1.register_image(Name="selftest-source", ImdsSupport="v2.0")["ImageId"]
    src_snap = snapshot_of(use1, src)
    use1.create_tags(Resources=[src], Tags=[{"Key": "team", "Value": "img"}])
    use1.create_tags(Resources=[src_snap["SnapshotId"]], Tags=[{"Key": "snaptag", "Value": "x"}])

    # ---- EXT 1: pending -> available --------------------------------------------------------
    def timing() -> None:
        emu.control("config", {"copy_seconds": 2})
        t0 = time.monotonic()
        img = usw2.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="timed-copy")["ImageId"]
        samples = []
        avail_at = None
        while time.monotonic() - t0 < 5:
            state = usw2.describe_images(ImageIds=[img])["Images"][0]["State"]
            snap = snapshot_of(usw2, img)
            samples.append((round(time.monotonic() - t0, 2), state, snap["State"], snap["Progress"]))
            if state == "available":
                avail_at = time.monotonic() - t0
                break
            time.sleep(0.25)
        emu.control("config", {"copy_seconds": 0})
        check("copy_seconds=2: image pending first", samples[0][1] == "pending", str(samples[0]))
        check("copy_seconds=2: available after ~2 s", avail_at is not None and 1.9 <= avail_at <= 3.0,
              f"available at {avail_at and round(avail_at, 2)} s")
        progress = [int(s[3].rstrip("%")) for s in samples if s[2] == "pending"]
        check("snapshot pending with increasing progress, then completed 100%",
              len(progress) >= 4 and progress == sorted(progress) and progress[-1] > progress[0]
              and samples[-1][2] == "completed" and samples[-1][3] == "100%",
              " ".join(f"{s[0]}s:{s[1]}/{s[2]}/{s[3]}" for s in samples[:3] + samples[-2:]))
        filtered = usw2.describe_images(Owners=["self"], Filters=[{"Name": "state", "Values": ["available"]}])
        check("copy_seconds back to 0 -> instant copies",
              usw2.describe_images(ImageIds=[usw2.copy_image(SourceImageId=src, SourceRegion="us-east-1",
                                                             Name="instant")["ImageId"]])["Images"][0]["State"] == "available"
              and img in {i["ImageId"] for i in filtered["Images"]})

    section("timing", timing)

    # ---- EXT 2: KMS --------------------------------------------------------------------------
    def kms() -> None:
        kms_eu = emu.client("kms", "eu-west-1")
        key = kms_eu.create_key(Description="replica key")["KeyMetadata"]
        kms_eu.create_alias(AliasName="alias/amiforge-test", TargetKeyId=key["KeyId"])
        for label, ref in (("alias/NAME", "alias/amiforge-test"), ("key id", key["KeyId"]), ("key ARN", key["Arn"])):
            img = euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name=f"kms-{label}",
                                  Encrypted=True, KmsKeyId=ref)["ImageId"]
            snap = snapshot_of(euw1, img)
            check(f"KmsKeyId as {label} resolved in destination, stored as key ARN",
                  snap["Encrypted"] is True and snap["KmsKeyId"] == key["Arn"], snap["KmsKeyId"])
        us_key = emu.client("kms", "us-east-1").create_key()["KeyMetadata"]
        for label, ref in (("missing alias", "alias/does-not-exist"),
                           ("key ARN of another region", us_key["Arn"]),
                           ("random key id", "11111111-2222-3333-4444-555555555555")):
            before_i = own_image_ids(euw1)
            before_s = {s["SnapshotId"] for s in euw1.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
            try:
                euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="kms-missing",
                                Encrypted=True, KmsKeyId=ref)
                code = ("no error", 200)
            except botocore.exceptions.ClientError as e:
                code = err_code(e)
            after_s = {s["SnapshotId"] for s in euw1.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
            check(f"{label} -> InvalidKMSKey.NotFound/400 and nothing created",
                  code == ("InvalidKMSKey.NotFound", 400) and own_image_ids(euw1) == before_i and after_s == before_s,
                  f"{code[0]} {code[1]}")
        img = euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="kms-default", Encrypted=True)["ImageId"]
        snap = snapshot_of(euw1, img)
        default_arn = kms_eu.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
        check("Encrypted=true without KmsKeyId -> region's alias/aws/ebs key",
              snap["Encrypted"] and snap["KmsKeyId"] == default_arn, snap["KmsKeyId"])
        img2 = euw1.copy_image(SourceImageId=img, SourceRegion="eu-west-1", Name="kms-inherit")["ImageId"]
        snap2 = snapshot_of(euw1, img2)
        img3 = euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="kms-plain")["ImageId"]
        snap3 = snapshot_of(euw1, img3)
        bdm = euw1.describe_images(ImageIds=[img2])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
        check("Encrypted absent keeps source encryption (encrypted stays, plain stays plain)",
              snap2["Encrypted"] and snap2["KmsKeyId"] == default_arn and snap3["Encrypted"] is False
              and bdm["Encrypted"] is True)
        try:
            euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="kms-noenc", KmsKeyId=key["Arn"])
            check("KmsKeyId without Encrypted rejected", False)
        except botocore.exceptions.ClientError as e:
            check("KmsKeyId without Encrypted rejected", err_code(e)[0] == "InvalidParameterDependency", err_code(e)[0])

    section("kms", kms)

    # ---- EXT 3: ClientToken -------------------------------------------------------------------
    def idempotency() -> None:
        args = dict(SourceImageId=src, SourceRegion="us-east-1", Name="idem", ClientToken="tok-123")
        before = own_image_ids(usw2)
        a = usw2.copy_image(**args)["ImageId"]
        b = usw2.copy_image(**args)["ImageId"]
        check("ClientToken: same token -> same ImageId, one image created",
              a == b and own_image_ids(usw2) - before == {a}, a)
        try:
            usw2.copy_image(**{**args, "Name": "idem-other"})
            check("ClientToken reused with other params -> IdempotentParameterMismatch", False)
        except botocore.exceptions.ClientError as e:
            check("ClientToken reused with other params -> IdempotentParameterMismatch",
                  err_code(e) == ("IdempotentParameterMismatch", 400), str(err_code(e)))
        c = euw1.copy_image(**args)["ImageId"]
        check("ClientToken is per region", c != a)

    section("idempotency", idempotency)

    # ---- EXT 4: deprecation + attributes ------------------------------------------------------
    def deprecation() -> None:
        use1.enable_image_deprecation(ImageId=src, DeprecateAt="2031-05-06T07:08:00Z")
        img = use1.describe_images(ImageIds=[src])["Images"][0]
        check("EnableImageDeprecation -> DescribeImages DeprecationTime",
              img.get("DeprecationTime") == "2031-05-06T07:08:00.000Z", str(img.get("DeprecationTime")))
        use1.disable_image_deprecation(ImageId=src)
        img = use1.describe_images(ImageIds=[src])["Images"][0]
        check("DisableImageDeprecation clears it", "DeprecationTime" not in img)
        try:
            use1.enable_image_deprecation(ImageId="ami-00000000000000000", DeprecateAt="2031-01-01T00:00:00Z")
            check("deprecation of unknown AMI -> InvalidAMIID.NotFound", False)
        except botocore.exceptions.ClientError as e:
            check("deprecation of unknown AMI -> InvalidAMIID.NotFound", err_code(e)[0] == "InvalidAMIID.NotFound")
        a = use1.describe_image_attribute(ImageId=src, Attribute="imdsSupport")
        b = use1.describe_image_attribute(ImageId=src, Attribute="lastLaunchedTime")
        other = usw2.register_image(Name="no-imds")["ImageId"]
        c = usw2.describe_image_attribute(ImageId=other, Attribute="imdsSupport")
        check("DescribeImageAttribute imdsSupport / lastLaunchedTime answer 200",
              a["ImdsSupport"] == {"Value": "v2.0"} and b.get("LastLaunchedTime", {}) == {}
              and c.get("ImdsSupport", {}) == {}, f"{a.get('ImdsSupport')} {b.get('LastLaunchedTime')}")
        usw2.modify_image_attribute(ImageId=other, ImdsSupport={"Value": "v2.0"})
        usw2.modify_image_attribute(ImageId=other, Description={"Value": "golden image"})
        img = usw2.describe_images(ImageIds=[other])["Images"][0]
        check("ModifyImageAttribute ImdsSupport/Description stored",
              img.get("ImdsSupport") == "v2.0" and img.get("Description") == "golden image")

    section("deprecation", deprecation)

    # ---- EXT 5: tags ---------------------------------------------------------------------------
    def tags() -> None:
        snap = snapshot_of(use1, src)
        by_filter = use1.describe_snapshots(Filters=[{"Name": "tag:snaptag", "Values": ["x"]}])["Snapshots"]
        check("CreateTags on snapshot visible (tags + tag filter)",
              {"Key": "snaptag", "Value": "x"} in snap.get("Tags", []) and [s["SnapshotId"] for s in by_filter] == [snap["SnapshotId"]])
        img = euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="tags-copy")["ImageId"]
        desc = euw1.describe_images(ImageIds=[img])["Images"][0]
        csnap = snapshot_of(euw1, img)
        check("CopyImage copies no tags (image and snapshot)", not desc.get("Tags") and not csnap.get("Tags"))
        img2 = euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="tags-copy2",
                               TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "1"}]},
                                                  {"ResourceType": "snapshot", "Tags": [{"Key": "b", "Value": "2"}]}])["ImageId"]
        check("CopyImage TagSpecifications tag image and snapshot",
              euw1.describe_images(ImageIds=[img2])["Images"][0]["Tags"] == [{"Key": "a", "Value": "1"}]
              and snapshot_of(euw1, img2)["Tags"] == [{"Key": "b", "Value": "2"}])

    section("tags", tags)

    # ---- EXT 6: faults ------------------------------------------------------------------------
    def faults() -> None:
        emu.control("reset-log")

        def throttle_pattern() -> tuple[str, int]:
            emu.control("config", {"seed": 7, "faults": [
                {"action": "DescribeImages", "region": "us-east-1", "kind": "throttle", "rate": 0.5}]})
            pattern, codes = "", set()
            for _ in range(40):
                try:
                    use1.describe_images(ImageIds=[src])
                    pattern += "."
                except botocore.exceptions.ClientError as e:
                    codes.add(err_code(e))
                    pattern += "T"
            return pattern, codes

        t = time.monotonic()
        p1, codes = throttle_pattern()
        dt = time.monotonic() - t
        p2, _ = throttle_pattern()
        n = p1.count("T")
        check("throttle rate 0.5, retries off: ~half throttled, EC2 RequestLimitExceeded/503",
              12 <= n <= 28 and codes == {("RequestLimitExceeded", 503)}, f"{n}/40 throttled {p1} in {dt:.2f} s")
        check("throttle pattern reproducible with the same seed", p1 == p2)
        ok_other = all(usw2.describe_images(Owners=["self"]) for _ in range(5))
        check("fault region filter leaves other regions alone", bool(ok_other))

        emu.control("config", {"faults": [{"action": "ListKeys", "kind": "throttle", "times": 1}]})
        try:
            emu.client("kms", "eu-west-1").list_keys()
            check("KMS throttle -> JSON ThrottlingException + x-amzn-ErrorType", False)
        except botocore.exceptions.ClientError as e:
            hdr = e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype")
            check("KMS throttle -> JSON ThrottlingException + x-amzn-ErrorType",
                  err_code(e) == ("ThrottlingException", 503) and hdr == "ThrottlingException", f"{err_code(e)} {hdr}")

        emu.control("config", {"faults": [{"action": "CopyImage", "region": "eu-west-1", "kind": "error5xx", "times": 2}]})
        seen = []
        for _ in range(3):
            try:
                seen.append(euw1.copy_image(SourceImageId=src, SourceRegion="us-east-1", Name="times2")["ImageId"][:4])
            except botocore.exceptions.ClientError as e:
                seen.append(f"{err_code(e)[0]}/{err_code(e)[1]}")
        check("times=2 error5xx: two InternalError/500, then success",
              seen[:2] == ["InternalError/500"] * 2 and seen[2] == "ami-", str(seen))

        emu.control("config", {"faults": [{"action": "DescribeImages", "kind": "throttle", "times": 2}]})
        r = emu.client("ec2", "us-east-1", retries=5, mode="standard").describe_images(ImageIds=[src])
        check("botocore standard retries ride through 2 throttles", r["ResponseMetadata"]["RetryAttempts"] == 2,
              f"RetryAttempts={r['ResponseMetadata']['RetryAttempts']}")

        emu.control("config", {"faults": [{"action": "DescribeImages", "kind": "drop", "times": 1}]})
        quick = emu.client("ec2", "us-east-1", read_timeout=10, connect_timeout=5)
        t = time.monotonic()
        try:
            quick.describe_images(ImageIds=[src])
            outcome = "no error"
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as e:
            outcome = type(e).__name__
        dt = time.monotonic() - t
        check("drop -> connection error quickly", outcome != "no error" and dt < 2, f"{outcome} after {dt*1000:.0f} ms")

        emu.control("config", {"faults": [{"action": "CopyImage", "region": "us-west-2", "kind": "drop",
                                           "times": 1, "after": True}]})
        before = own_image_ids(usw2)
        args = dict(SourceImageId=src, SourceRegion="us-east-1", Name="lost-answer", ClientToken="retry-me")
        try:
            usw2.copy_image(**args)
            first = "no error"
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as e:
            first = type(e).__name__
        again = usw2.copy_image(**args)["ImageId"]
        check("drop after:true + ClientToken retry -> the one image moto created",
              first != "no error" and own_image_ids(usw2) - before == {again}, f"{first}, then {again}")

        emu.control("config", {"faults": [{"action": "CopyImage", "region": "us-west-2", "kind": "error5xx",
                                           "times": 1, "after": True}]})
        before = own_image_ids(usw2)
        r = emu.client("ec2", "us-west-2", retries=3, mode="standard").copy_image(
            SourceImageId=src, SourceRegion="us-east-1", Name="sdk-token-retry")   # SDK fills ClientToken
        check("error5xx after:true + SDK retry (auto ClientToken) -> one image",
              r["ResponseMetadata"]["RetryAttempts"] == 1 and own_image_ids(usw2) - before == {r["ImageId"]},
              f"RetryAttempts={r['ResponseMetadata']['RetryAttempts']}")

        emu.control("config", {"faults": [{"action": "*", "region": "us-east-1", "kind": "latency", "latency_ms": 500}]})
        t = time.monotonic()
        use1.describe_images(ImageIds=[src])
        slow = time.monotonic() - t
        t = time.monotonic()
        euw1.describe_images(Owners=["self"])
        fast = time.monotonic() - t
        check("latency 500 ms adds delay (only where matched)", slow >= 0.5 and fast < 0.3,
              f"{slow*1000:.0f} ms vs {fast*1000:.0f} ms")
        emu.control("config", {"faults": []})

        status, log = emu.control("log")
        outcomes = {}
        for e in log:
            outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
        kinds_ok = {"ok", "throttle", "error5xx", "error5xx-after", "drop", "drop-after", "latency+ok"} <= set(outcomes)
        sample = next(e for e in log if e["outcome"] == "throttle" and e["service"] == "ec2")
        kms_e = next(e for e in log if e["service"] == "kms")
        drop_e = next(e for e in log if e["outcome"] == "drop")
        fields_ok = set(sample) >= {"t", "action", "region", "service", "outcome", "status"} \
            and sample["action"] == "DescribeImages" and sample["region"] == "us-east-1" and sample["status"] == 503 \
            and kms_e["action"] == "ListKeys" and kms_e["region"] == "eu-west-1" and drop_e["status"] is None
        check("GET /__emulator/log records action/region/service/outcome/status", kinds_ok and fields_ok,
              f"{len(log)} entries {outcomes}")
        emu.control("reset-log")
        check("POST /__emulator/reset-log empties it", emu.control("log")[1] == [])
        try:
            emu.control("config", {"faults": [{"kind": "explode"}]})
            check("bad config -> 400", False)
        except urllib.error.HTTPError as e:
            check("bad config -> 400", e.code == 400)

    section("faults", faults)

    # ---- EXT 8: image attributes --------------------------------------------------------------
    def attributes() -> None:
        seed, win = image_attrs(use1, SEED_LINUX), image_attrs(usw2, SEED_WIN)
        created = use1.describe_images(ImageIds=[SEED_LINUX])["Images"][0]["CreationDate"]
        check("--seed-amis ena_support/imds_support/boot_mode -> EnaSupport/ImdsSupport/BootMode (unset: omitted)",
              seed == {"EnaSupport": True, "BootMode": "uefi", "ImdsSupport": "v2.0"}
              and win == {"BootMode": "legacy-bios"} and created == "2024-01-01T00:00:00.000Z", f"{seed} {win} {created}")
        reg = use1.register_image(Name="ena-off", EnaSupport=False, BootMode="legacy-bios")["ImageId"]
        plain = use1.register_image(Name="plain")["ImageId"]
        bad = client_error(lambda: use1.register_image(Name="bad-boot", BootMode="bios"))
        check("RegisterImage EnaSupport=false (not omitted) / BootMode stored; bad BootMode -> 400",
              image_attrs(use1, reg) == {"EnaSupport": False, "BootMode": "legacy-bios"}
              and image_attrs(use1, plain) == {"BootMode": "uefi"} and bad == ("InvalidParameterValue", 400),
              f"{image_attrs(use1, reg)} {image_attrs(use1, plain)} {bad}")
        cp_seed = euw1.copy_image(SourceImageId=SEED_LINUX, SourceRegion="us-east-1", Name="cp-seed")["ImageId"]
        cp_reg = use1.copy_image(SourceImageId=reg, SourceRegion="us-east-1", Name="cp-reg")["ImageId"]
        check("CopyImage copies keep EnaSupport/BootMode/ImdsSupport",
              image_attrs(euw1, cp_seed) == seed and image_attrs(use1, cp_reg) == image_attrs(use1, reg),
              f"{image_attrs(euw1, cp_seed)} {image_attrs(use1, cp_reg)}")

        inst = launch(use1, SEED_LINUX)["InstanceId"]
        d = describe_instance(use1, inst)
        img = use1.create_image(InstanceId=inst, Name="from-seed-instance")["ImageId"]
        check("instance shows its AMI's EnaSupport/BootMode; CreateImage inherits all three",
              d.get("EnaSupport") is True and d.get("BootMode") == "uefi" and image_attrs(use1, img) == seed,
              f"instance {d.get('EnaSupport')}/{d.get('BootMode')}, image {image_attrs(use1, img)}")
        sg = use1.create_security_group(GroupName="ena-sg", Description="ena")["GroupId"]
        inst2 = launch(use1, SEED_LINUX, SecurityGroupIds=[sg])["InstanceId"]
        use1.modify_instance_attribute(InstanceId=inst2, EnaSupport={"Value": False})   # Packer ena_support=false
        use1.modify_instance_attribute(InstanceId=inst2, SriovNetSupport={"Value": "simple"})
        d2 = describe_instance(use1, inst2)
        attr = use1.describe_instance_attribute(InstanceId=inst2, Attribute="enaSupport").get("EnaSupport")
        img2 = use1.create_image(InstanceId=inst2, Name="ena-modified")["ImageId"]
        check("ModifyInstanceAttribute EnaSupport stored (security groups kept) and used by CreateImage",
              d2.get("EnaSupport") is False and [g["GroupId"] for g in d2["SecurityGroups"]] == [sg]
              and attr == {"Value": False}
              and image_attrs(use1, img2) == {"EnaSupport": False, "BootMode": "uefi", "ImdsSupport": "v2.0"},
              f"{d2.get('EnaSupport')} {d2['SecurityGroups']} {image_attrs(use1, img2)}")
        use1.terminate_instances(InstanceIds=[inst, inst2])

        status, body = emu.control("image", {"region": "eu-west-1", "image_id": cp_seed,
                                             "creation_date": "2019-02-03T04:05:06.000Z", "ena_support": False,
                                             "boot_mode": "legacy-bios", "imds_support": None})
        img = euw1.describe_images(ImageIds=[cp_seed])["Images"][0]
        check("POST /__emulator/image overrides CreationDate/EnaSupport/BootMode/ImdsSupport",
              status == 200 and body["creation_date"] == "2019-02-03T04:05:06.000Z"
              and img["CreationDate"] == "2019-02-03T04:05:06.000Z"
              and image_attrs(euw1, cp_seed) == {"EnaSupport": False, "BootMode": "legacy-bios"}
              and image_attrs(use1, SEED_LINUX) == seed, f"{img['CreationDate']} {image_attrs(euw1, cp_seed)}")
        emu.control("image", {"region": "eu-west-1", "image_id": cp_seed, "ena_support": True})
        partial = image_attrs(euw1, cp_seed)
        codes = [emu.control_status("image", body) for body in (
            {"region": "eu-west-1", "image_id": "ami-00000000000000000", "ena_support": True},
            {"region": "eu-west-1", "image_id": cp_seed, "architecture": "arm64"},
            {"region": "eu-west-1", "image_id": cp_seed, "boot_mode": "bios"},
            {"region": "eu-west-1", "image_id": cp_seed, "ena_support": "yes"},
            {"region": "eu-west-1", "image_id": cp_seed, "creation_date": "last tuesday"},
            {"region": "mars-1", "image_id": cp_seed})]
        check("image override: subset keeps the rest; unknown image 404, bad key/value/region 400",
              partial == {"EnaSupport": True, "BootMode": "legacy-bios"} and codes == [404, 400, 400, 400, 400, 400]
              and image_attrs(euw1, cp_seed) == partial, f"{partial} {codes}")

    section("attributes", attributes)

    # ---- EXT 9: instance lifecycle ----------------------------------------------------------------
    def lifecycle() -> None:
        bad_ami = use1.register_image(Name="impaired-ami")["ImageId"]
        emu.control("config", {"launch_seconds": 1, "status_seconds": 1, "instance_faults": [
            {"region": "us-east-1", "ami": bad_ami, "status": "impaired"},
            {"region": "us-west-2", "status": "stuck"}]})
        cfg = emu.control("config")[1]
        t0 = time.monotonic()
        first = launch(use1, SEED_LINUX)
        a = first["InstanceId"]
        impaired = launch(use1, bad_ami)["InstanceId"]
        stuck = launch(usw2, SEED_LINUX)["InstanceId"]
        doomed = launch(use1, SEED_LINUX)["InstanceId"]
        emu.control("config", {"launch_seconds": 0, "status_seconds": 0})
        b = launch(use1, SEED_LINUX)["InstanceId"]
        check("GET config shows launch_seconds/status_seconds/instance_faults",
              cfg["launch_seconds"] == 1 and cfg["status_seconds"] == 1
              and cfg["instance_faults"][1] == {"region": "us-west-2", "ami": "*", "status": "stuck"}, str(cfg))
        pending = instance_ids(use1, [{"Name": "instance-state-name", "Values": ["pending"]}])
        running = instance_ids(use1, [{"Name": "instance-state-name", "Values": ["running"]}])
        state_a = describe_instance(use1, a)["State"]
        check("launch_seconds=1: RunInstances + DescribeInstances pending/0, instance-state-name filter agrees",
              first["State"] == state_a == {"Code": 0, "Name": "pending"} and a in pending and a not in running,
              str(state_a))
        b_status = instance_status(use1, b)
        check("settings at RunInstances time apply: launched with 0 -> running, status ok at once",
              describe_instance(use1, b)["State"]["Name"] == "running" and b in running and b not in pending
              and b_status[0]["InstanceStatus"]["Status"] == "ok", str(b_status and b_status[0]["InstanceStatus"]))
        hidden, shown = instance_status(use1, a), instance_status(use1, a, include_all=True)
        check("pending: DescribeInstanceStatus omits it; IncludeAllInstances -> pending + not-applicable",
              hidden == [] and shown[0]["InstanceState"]["Name"] == "pending"
              and shown[0]["InstanceStatus"] == {"Status": "not-applicable"}
              and shown[0]["SystemStatus"] == {"Status": "not-applicable"}, str(shown))
        term = use1.terminate_instances(InstanceIds=[doomed])["TerminatingInstances"][0]
        check("TerminateInstances while pending: pending -> shutting-down, then terminated",
              term["PreviousState"]["Name"] == "pending" and term["CurrentState"]["Name"] == "shutting-down"
              and describe_instance(use1, doomed)["State"] == {"Code": 48, "Name": "terminated"}, str(term))

        running_at = ok_at = None
        early: list[dict[str, Any]] = []
        while time.monotonic() - t0 < 5 and ok_at is None:
            if running_at is None and describe_instance(use1, a)["State"]["Name"] == "running":
                running_at = time.monotonic() - t0
                early = instance_status(use1, a)
            if running_at is not None:
                st = instance_status(use1, a)
                if st and st[0]["InstanceStatus"]["Status"] == "ok":
                    ok_at, final = time.monotonic() - t0, st[0]
                    break
            time.sleep(0.05)
        check("pending -> running after ~1 s", running_at is not None and 0.9 <= running_at <= 1.8,
              f"running at {running_at and round(running_at, 2)} s")
        init = {"Status": "initializing", "Details": [{"Name": "reachability", "Status": "initializing"}]}
        check("status_seconds=1: InstanceStatus/SystemStatus initializing right after running",
              bool(early) and early[0]["InstanceStatus"] == init and early[0]["SystemStatus"] == init, str(early))
        passed = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
        check("then ok/passed ~1 s later", ok_at is not None and 1.9 <= ok_at <= 3.0
              and final["InstanceStatus"] == passed and final["SystemStatus"] == passed,
              f"ok at {ok_at and round(ok_at, 2)} s")
        # `impaired` was launched after `a`: on a loaded machine its window may end a little later.
        deadline = time.monotonic() + 3
        imp = instance_status(use1, impaired)[0]
        while imp["InstanceStatus"]["Status"] == "initializing" and time.monotonic() < deadline:
            time.sleep(0.05)
            imp = instance_status(use1, impaired)[0]
        detail = imp["InstanceStatus"]["Details"][0]
        check("instance_faults impaired: InstanceStatus impaired/failed, SystemStatus ok",
              imp["InstanceStatus"]["Status"] == "impaired" and detail["Status"] == "failed"
              and "ImpairedSince" in detail and imp["SystemStatus"] == passed, str(imp["InstanceStatus"]))
        stk = instance_status(usw2, stuck)[0]
        check("instance_faults stuck (region rule): still initializing after the window",
              stk["InstanceStatus"] == init and stk["SystemStatus"] == init and time.monotonic() - t0 > 2,
              str(stk["InstanceStatus"]))
        check("terminated-while-pending instance stays terminated",
              describe_instance(use1, doomed)["State"]["Name"] == "terminated"
              and instance_status(use1, doomed, include_all=True)[0]["InstanceStatus"] == {"Status": "not-applicable"})
        use1.terminate_instances(InstanceIds=[a, b, impaired])
        usw2.terminate_instances(InstanceIds=[stuck])

        codes = [emu.control_status("config", body) for body in (
            {"launch_seconds": -1}, {"status_seconds": "2"}, {"instance_faults": [{"status": "dead"}]},
            {"instance_faults": [{"status": "stuck", "zone": "a"}]},
            {"instance_faults": [{"status": "stuck", "ami": "i-0123"}]},
            {"launch_seconds": 5, "instance_faults": {"status": "stuck"}})]
        cfg = emu.control("config")[1]
        emu.control("config", {"instance_faults": []})
        check("bad launch/status seconds or instance_faults -> 400, nothing applied",
              codes == [400] * 6 and cfg["launch_seconds"] == 0 and len(cfg["instance_faults"]) == 2, str(codes))

    section("lifecycle", lifecycle)

    # ---- EXT 9: RunInstances ClientToken ------------------------------------------------------------
    def run_token() -> None:
        args = dict(InstanceType="t3.micro", ClientToken="run-token-1")
        before = instance_ids(use1, [])
        r1 = use1.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1, **args)
        r2 = use1.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1, **args)
        ids1 = [i["InstanceId"] for i in r1["Instances"]]
        check("RunInstances ClientToken: same token -> same reservation and instance, one launch",
              r1["ReservationId"] == r2["ReservationId"] and ids1 == [i["InstanceId"] for i in r2["Instances"]]
              and instance_ids(use1, []) - before == set(ids1), r1["ReservationId"])
        other = client_error(lambda: use1.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1,
                                                        **{**args, "InstanceType": "t3.small"}))
        r3 = usw2.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1, **args)
        check("same token, other params -> IdempotentParameterMismatch; token is per region",
              other == ("IdempotentParameterMismatch", 400) and r3["ReservationId"] != r1["ReservationId"], str(other))
        use1.terminate_instances(InstanceIds=ids1)
        usw2.terminate_instances(InstanceIds=[i["InstanceId"] for i in r3["Instances"]])

    section("run-token", run_token)

    # ---- EXT 9: what the validator's launch needs (moto already does all but DependencyViolation) --
    def launch_resources() -> None:
        def tags(rtype: str, value: str) -> list[dict[str, Any]]:
            return [{"ResourceType": rtype, "Tags": [{"Key": "amiforge:run", "Value": value}]}]

        sg = use1.create_security_group(GroupName="validator-sg", Description="validator",
                                        TagSpecifications=tags("security-group", "run-1"))["GroupId"]
        use1.create_key_pair(KeyName="validator-key", TagSpecifications=tags("key-pair", "run-1"))
        inst = launch(use1, SEED_LINUX, KeyName="validator-key", SecurityGroupIds=[sg],
                      MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
                      TagSpecifications=tags("instance", "run-1") + tags("volume", "run-1-vol"))["InstanceId"]
        d = describe_instance(use1, inst)
        vols = use1.describe_volumes(Filters=[{"Name": "tag:amiforge:run", "Values": ["run-1-vol"]}])["Volumes"]
        md = d["MetadataOptions"]
        check("RunInstances TagSpecifications (instance, volume) + MetadataOptions shown",
              {"Key": "amiforge:run", "Value": "run-1"} in d.get("Tags", []) and len(vols) == 1
              and vols[0]["Attachments"][0]["InstanceId"] == inst and md["HttpTokens"] == "required"
              and md["HttpEndpoint"] == "enabled" and d["KeyName"] == "validator-key", str(md))
        by_tag = [{"Name": "tag:amiforge:run", "Values": ["run-1"]}]
        by_key = [{"Name": "tag-key", "Values": ["amiforge:run"]}]
        wrong = [{"Name": "tag:amiforge:run", "Values": ["run-2"]}]
        kps = {name: [k["KeyName"] for k in use1.describe_key_pairs(Filters=f)["KeyPairs"]]
               for name, f in (("tag", by_tag), ("key", by_key), ("wrong", wrong))}
        sgs = {name: [g["GroupId"] for g in use1.describe_security_groups(Filters=f)["SecurityGroups"]]
               for name, f in (("tag", by_tag), ("key", by_key), ("wrong", wrong))}
        check("tag:KEY / tag-key filters: DescribeInstances, DescribeKeyPairs, DescribeSecurityGroups",
              instance_ids(use1, by_tag) == {inst} and inst in instance_ids(use1, by_key)
              and instance_ids(use1, wrong) == set() and kps == {"tag": ["validator-key"], "key": ["validator-key"],
                                                                  "wrong": []}
              and sgs == {"tag": [sg], "key": [sg], "wrong": []}, f"{kps} {sgs}")
        in_use = client_error(lambda: use1.delete_security_group(GroupId=sg))
        by_name = client_error(lambda: use1.delete_security_group(GroupName="validator-sg"))
        use1.terminate_instances(InstanceIds=[inst])
        terminated = instance_ids(use1, [{"Name": "instance-state-name", "Values": ["terminated"]}])
        use1.delete_security_group(GroupId=sg)
        gone = client_error(lambda: use1.describe_security_groups(GroupIds=[sg]))
        check("DeleteSecurityGroup in use -> DependencyViolation; deletable once the instance is terminated",
              in_use == by_name == ("DependencyViolation", 400) and inst in terminated
              and gone[0] == "InvalidGroup.NotFound", f"{in_use} {by_name} {gone}")
        use1.delete_key_pair(KeyName="validator-key")

    section("launch-resources", launch_resources)

    def ssm() -> None:
        s = emu.client("ssm", "eu-west-1")
        s.put_parameter(Name="/amiforge/golden/latest", Value=src, Type="String", Overwrite=True)
        v = s.get_parameter(Name="/amiforge/golden/latest")["Parameter"]["Value"]
        check("SSM JSON protocol through the middleware", v == src)

    section("ssm", ssm)

    # ---- EXT 10: CreateKeyPair hands out the configured key -----------------------------------------
    def key_material() -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption()).decode()
        bad = emu.control_status("config", {"key_material": "not a key"})
        emu.control("config", {"key_material": pem})
        ew1 = emu.client("ec2", "eu-west-1")
        a = ew1.create_key_pair(KeyName="made-a", KeyType="ed25519")
        b = ew1.create_key_pair(KeyName="made-b")
        shown = emu.control("config")[1]["key_material"]
        emu.control("config", {"key_material": None})
        c = ew1.create_key_pair(KeyName="made-c", KeyType="ed25519")
        check("key_material: every CreateKeyPair returns that key (same fingerprint); null -> random again; "
              "bad key -> 400; GET config hides it",
              a["KeyMaterial"] == b["KeyMaterial"] == pem and a["KeyFingerprint"] == b["KeyFingerprint"]
              and c["KeyMaterial"] != pem and bad == 400 and shown == "<set>",
              f"{bad} {shown} {a['KeyFingerprint']}")
        for k in ("made-a", "made-b", "made-c"):
            ew1.delete_key_pair(KeyName=k)

    section("key-material", key_material)

    # ---- EXT 11: SSM Run Command executed over (a stand-in for) ssh ---------------------------------
    def ssm_exec() -> None:
        tmp = tempfile.mkdtemp(prefix="emu-ssm-")
        args_file, stdin_file = os.path.join(tmp, "args"), os.path.join(tmp, "stdin")
        fake = os.path.join(tmp, "fake-ssh")
        key = os.path.join(tmp, "key")
        with open(key, "w") as f:
            f.write("stand-in\n")
        # records how it was called and what it was fed; answers like a long command that fails
        with open(fake, "w") as f:
            f.write(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{args_file}'\ncat > '{stdin_file}'\n"
                    "sleep 0.5\nyes x | head -c 30000\necho to-stderr >&2\nexit 3\n")
        os.chmod(fake, 0o755)
        target = {"host": "127.0.0.1", "port": 2222, "user": "admin", "key": key, "ssh": fake}
        bad_host = emu.control_status("config", {"ssm_exec": {**target, "host": "10.0.0.1"}})
        bad_key = emu.control_status("config", {"ssm_exec": {**target, "key": os.path.join(tmp, "none")}})
        emu.control("config", {"ssm_exec": target})
        s = emu.client("ssm", "eu-west-1")
        ew1 = emu.client("ec2", "eu-west-1")
        emu.control("config", {"launch_seconds": 30})
        pending = launch(ew1, SEED_LINUX)["InstanceId"]
        emu.control("config", {"launch_seconds": 0})
        inst = launch(ew1, SEED_LINUX)["InstanceId"]
        not_running = client_error(lambda: s.send_command(
            InstanceIds=[pending], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}))
        cid = s.send_command(InstanceIds=[inst], DocumentName="AWS-RunShellScript",
                             Parameters={"commands": ["echo one", "echo two"]})["Command"]["CommandId"]
        first = s.get_command_invocation(CommandId=cid, InstanceId=inst)
        deadline, inv = time.monotonic() + 10, first
        while inv["Status"] == "InProgress" and time.monotonic() < deadline:
            time.sleep(0.1)
            inv = s.get_command_invocation(CommandId=cid, InstanceId=inst)
        with open(args_file) as f:
            argv = f.read().split("\n")
        with open(stdin_file) as f:
            fed = f.read()
        check("ssm_exec: non-loopback host / missing key -> 400; not running -> InvalidInstanceId",
              (bad_host, bad_key) == (400, 400) and not_running[0] == "InvalidInstanceId",
              f"{bad_host} {bad_key} {not_running}")
        check("ssm_exec: InProgress, then the exit code and stdout/stderr cut at 24,000/8,000 characters",
              first["Status"] == "InProgress" and first["ResponseCode"] == -1
              and (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("Failed", "Failed", 3)
              and len(inv["StandardOutputContent"]) == 24_000
              and inv["StandardErrorContent"] == "to-stderr\n",
              f"{first['Status']} -> {inv['Status']}/{inv['ResponseCode']} "
              f"{len(inv['StandardOutputContent'])} chars")
        check("ssm_exec: the commands go to `sudo -n sh -s` on user@host:port with the key, joined by newlines",
              fed == "echo one\necho two" and argv[-3:-1] == ["admin@127.0.0.1", "sudo -n sh -s"]
              and "-p" in argv and argv[argv.index("-p") + 1] == "2222"
              and argv[argv.index("-i") + 1] == key, f"{argv} {fed!r}")
        emu.control("config", {"ssm_exec": None})
        cid = s.send_command(InstanceIds=[inst], DocumentName="AWS-RunShellScript",
                             Parameters={"commands": ["true"]})["Command"]["CommandId"]
        canned = s.get_command_invocation(CommandId=cid, InstanceId=inst)
        check("ssm_exec null -> moto's canned Success without output",
              canned["Status"] == "Success" and canned["StandardOutputContent"] == "")
        ew1.terminate_instances(InstanceIds=[inst, pending])
        shutil.rmtree(tmp, ignore_errors=True)

    section("ssm-exec", ssm_exec)

    # ---- EXT 12: eventual consistency (selftest_consistency.py) ------------------------------------
    section("consistency", lambda: selftest_consistency.run(emu, check, client_error))

    # ---- reset (last: wipes everything) ------------------------------------------------------------
    def reset() -> None:
        emu.control("config", {"copy_seconds": 3, "launch_seconds": 2, "status_seconds": 2,
                               "instance_faults": [{"status": "stuck"}], "ssm_exec": None,
                               "faults": [{"action": "Nothing", "kind": "throttle"}]})
        emu.control("reset")
        cfg = emu.control("config")[1]
        inst = launch(use1, SEED_LINUX, ClientToken="run-token-1")
        st = instance_status(use1, inst["InstanceId"])
        check("POST /__emulator/reset: seconds 0, no faults, moto wiped, seed AMIs back with attributes",
              (cfg["copy_seconds"], cfg["launch_seconds"], cfg["status_seconds"], cfg["faults"],
               cfg["instance_faults"], cfg["key_material"], cfg["ssm_exec"]) == (0, 0, 0, [], [], None, None) and own_image_ids(use1) == set()
              and image_attrs(use1, SEED_LINUX)["EnaSupport"] is True
              and describe_instance(use1, inst["InstanceId"])["State"]["Name"] == "running"
              and st[0]["InstanceStatus"]["Status"] == "ok", str(cfg))

    section("reset", reset)


def main() -> int:
    t0 = time.monotonic()
    emu = None
    try:
        emu = Emu()
        run(emu)
    except Exception as e:  # noqa: BLE001
        check("selftest ran to completion", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        if emu is not None:
            t = time.monotonic()
            rc = emu.stop()
            check("SIGTERM -> clean exit 0", rc == 0, f"rc={rc} in {(time.monotonic() - t)*1000:.0f} ms")
    failed = [n for ok, n in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)}/{len(RESULTS)} checks ok in {time.monotonic() - t0:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
