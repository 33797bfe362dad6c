"""Self-test checks of EXT 12 (eventual consistency), run by selftest.py against its emulator."""
from __future__ import annotations

import time
from typing import Any, Callable

SEED_LINUX = "ami-0e1a1a1a1a1a1a1a1"
WINDOW = 0.6


def run(emu: Any, check: Callable[..., bool], client_error: Callable[..., tuple[str, int]]) -> None:
    ec2 = emu.client("ec2", "ca-central-1")
    ssm = emu.client("ssm", "ca-central-1")

    def tags(rtype: str) -> list[dict[str, Any]]:
        return [{"ResourceType": rtype, "Tags": [{"Key": "amiforge:ec", "Value": "1"}]}]

    by_tag = [{"Name": "tag:amiforge:ec", "Values": ["1"]}]

    def instances_by_tag() -> set[str]:
        return {i["InstanceId"] for r in ec2.describe_instances(Filters=by_tag)["Reservations"]
                for i in r["Instances"]}

    check("consistency: bad windows -> 400",
          emu.control_status("config", {"consistency": {"min_seconds": 2, "max_seconds": 1}}) == 400
          and emu.control_status("config", {"consistency": {"max_seconds": -1}}) == 400
          and emu.control_status("config", {"consistency": {"window": 1}}) == 400)
    emu.control("config", {"consistency": {"min_seconds": WINDOW, "max_seconds": WINDOW}})
    shown = emu.control("config")[1]["consistency"]
    check("GET config shows consistency", shown == {"min_seconds": WINDOW, "max_seconds": WINDOW}, str(shown))

    t0 = time.monotonic()
    sg = ec2.create_security_group(GroupName="ec-sg", Description="ec",
                                   TagSpecifications=tags("security-group"))["GroupId"]
    ec2.create_key_pair(KeyName="ec-key", TagSpecifications=tags("key-pair"))
    named_sg = client_error(lambda: ec2.describe_security_groups(GroupIds=[sg]))
    listed_sg = [g["GroupId"] for g in ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"]]
    listed_kp = [k["KeyName"] for k in ec2.describe_key_pairs(Filters=by_tag)["KeyPairs"]]
    run_sg = client_error(lambda: ec2.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1,
                                                    SecurityGroupIds=[sg]))
    run_kp = client_error(lambda: ec2.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1,
                                                    KeyName="ec-key"))
    del_kp = client_error(lambda: ec2.delete_key_pair(KeyName="ec-key"))
    auth = client_error(lambda: ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]))
    st = emu.control("consistency")[1]
    fresh = time.monotonic() - t0 < WINDOW
    check("a new group / key pair: named -> NotFound, nothing launched or deleted; filtered describes omit them",
          fresh and named_sg == ("InvalidGroup.NotFound", 400) and listed_sg == [] and listed_kp == []
          and run_sg == ("InvalidGroup.NotFound", 400) and run_kp == ("InvalidKeyPair.NotFound", 400)
          and del_kp == ("InvalidKeyPair.NotFound", 400) and auth == ("InvalidGroup.NotFound", 400)
          and instances_by_tag() == set() and len(ec2.describe_instances()["Reservations"]) == 0
          and st["hidden"] == 2 and 0 < st["visible_in"] <= WINDOW,
          f"{named_sg} {run_sg} {run_kp} {del_kp} {auth} {listed_sg} {listed_kp} {st}")
    log = [e for e in emu.control("log")[1] if e["region"] == "ca-central-1"]
    check("a refused call is logged as `consistency`",
          sum(e["outcome"] == "consistency" for e in log) == 5, str([e["outcome"] for e in log][-8:]))

    inst = ec2.run_instances(ImageId=SEED_LINUX, MinCount=1, MaxCount=1,
                             TagSpecifications=tags("instance"))["Instances"][0]["InstanceId"]
    term = client_error(lambda: ec2.terminate_instances(InstanceIds=[inst]))
    tag = client_error(lambda: ec2.create_tags(Resources=[inst], Tags=[{"Key": "k", "Value": "v"}]))
    status = client_error(lambda: ec2.describe_instance_status(InstanceIds=[inst]))
    send = client_error(lambda: ssm.send_command(InstanceIds=[inst], DocumentName="AWS-RunShellScript",
                                                 Parameters={"commands": ["true"]}))
    listed = instances_by_tag()
    copy = ec2.copy_image(SourceRegion="us-east-1", SourceImageId=SEED_LINUX, Name="ec-copy")["ImageId"]
    dereg = client_error(lambda: ec2.deregister_image(ImageId=copy))
    own = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    check("a new instance / image: terminate, tag, status, SSM, deregister refused (NotFound); not listed",
          term == tag == status == ("InvalidInstanceID.NotFound", 400) and send == ("InvalidInstanceId", 400)
          and dereg == ("InvalidAMIID.NotFound", 400) and listed == set() and copy not in own,
          f"{term} {tag} {status} {send} {dereg} {listed} {own}")

    time.sleep(WINDOW + 0.1)
    img = ec2.describe_images(ImageIds=[copy])["Images"][0]
    snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    check("once the window passed: every refused resource still exists and is listed",
          [g["GroupId"] for g in ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"]] == [sg]
          and [k["KeyName"] for k in ec2.describe_key_pairs(Filters=by_tag)["KeyPairs"]] == ["ec-key"]
          and instances_by_tag() == {inst} and img["State"] == "available"
          and len(ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"]) == 1
          and emu.control("consistency")[1]["hidden"] == 0)
    ec2.terminate_instances(InstanceIds=[inst])
    ec2.deregister_image(ImageId=copy)
    ec2.delete_key_pair(KeyName="ec-key")

    emu.control("config", {"consistency": {"min_seconds": 0, "max_seconds": 5}, "seed": 7})
    ids = [ec2.create_security_group(GroupName=f"ec-r{n}", Description="ec")["GroupId"] for n in range(8)]
    st = emu.control("consistency")[1]
    emu.control("config", {"consistency": None})
    visible = [g["GroupId"] for g in ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]]
    check("randomized windows (seeded); null turns it off and shows every hidden id at once",
          0 < st["hidden"] <= 8 and 0 < st["visible_in"] <= 5 and sorted(visible) == sorted(ids)
          and emu.control("config")[1]["consistency"] is None, str(st))
    for g in [sg, *ids]:
        ec2.delete_security_group(GroupId=g)

    # boto3 says "Boto3/…" in its User-Agent: exempting another agent leaves its creates hidden,
    # exempting boto3's leaves them visible at once; an empty substring is refused
    bad = emu.control_status("config", {"consistency_exempt_agents": [""]})
    window = {"min_seconds": WINDOW, "max_seconds": WINDOW}
    emu.control("config", {"consistency": window, "consistency_exempt_agents": ["aws-sdk-go"]})
    theirs = ec2.create_security_group(GroupName="ec-other-agent", Description="ec")["GroupId"]
    hidden = client_error(lambda: ec2.delete_security_group(GroupId=theirs))
    emu.control("config", {"consistency": window, "consistency_exempt_agents": ["Boto3/"]})
    mine = ec2.create_security_group(GroupName="ec-agent", Description="ec")["GroupId"]
    gone = client_error(lambda: ec2.delete_security_group(GroupId=mine))
    emu.control("config", {"consistency": None, "consistency_exempt_agents": []})
    check("consistency_exempt_agents: a create by an exempt client is visible at once, others' "
          "still hidden; an empty substring -> 400",
          bad == 400 and hidden == ("InvalidGroup.NotFound", 400) and gone == ("no error", 200),
          f"{bad} {hidden} {gone}")
    ec2.delete_security_group(GroupId=theirs)
