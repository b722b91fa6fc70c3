// A script written the way automation for Tencent Cloud is written, run with the official Node SDK against the
// gateway: look up the zone, the VPC and the subnet first, create instances into them, wait for RUNNING, stop with
// each charging mode, start, reboot, rename — checking every instance's public IP against the rules at every step:
// STOP_CHARGING releases the ordinary public IP (back to the pool and not handed out again while others are free) and
// start assigns a new one; KEEP_CHARGING keeps it; an EIP stays bound through everything.
//
// The daemon runs with --transition-time 2, so PENDING, STOPPING, STARTING and REBOOTING are really seen and
// waited out, as against the cloud.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gatewayDaemon, rejectsWithCode } from "./gateway-daemon.mjs";

const gateway = gatewayDaemon(["--public-pool", "203.0.113.0/28", "--subnet", "10.5.0.0/24", "--transition-time", "2"]);

before(() => gateway.start());

after(() => gateway.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls DescribeInstancesStatus until every instance reads `target`; returns every state seen on the way. */
async function waitFor(cvm, ids, target) {
  const seen = new Set();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { InstanceStatusSet } = await cvm.DescribeInstancesStatus({ InstanceIds: ids, Limit: 100 });
    assert.equal(InstanceStatusSet.length, ids.length);
    for (const s of InstanceStatusSet) seen.add(s.InstanceState);
    if (InstanceStatusSet.every((s) => s.InstanceState === target)) return seen;
    assert.ok(Date.now() < deadline, `${ids} did not reach ${target}: ${[...seen]}`);
    await sleep(100);
  }
}

async function describe(cvm, ids) {
  const { InstanceSet } = await cvm.DescribeInstances({ InstanceIds: ids, Limit: 100 });
  return Object.fromEntries(InstanceSet.map((i) => [i.InstanceId, i]));
}

const publicIp = (instance) => (instance.PublicIpAddresses ? instance.PublicIpAddresses[0] : null);

/** Every public address some instance or EIP holds now. */
async function heldAddresses(cvm, vpc) {
  const { InstanceSet } = await cvm.DescribeInstances({ Limit: 100 });
  const { AddressSet } = await vpc.DescribeAddresses({ Limit: 100 });
  return new Set([...InstanceSet.map(publicIp).filter(Boolean), ...AddressSet.map((a) => a.AddressIp)]);
}

test("a cloud-shaped script: look up, create, wait, stop with each charging mode, start, reboot", async () => {
  const { cvm, vpc } = gateway.clients();

  // 1. Where to create: an available zone, the default VPC, a subnet of it in that zone with room.
  const { ZoneSet } = await cvm.DescribeZones({});
  const zone = ZoneSet.find((z) => z.ZoneState === "AVAILABLE");
  assert.ok(zone, "DescribeZones lists an AVAILABLE zone");
  const { VpcSet } = await vpc.DescribeVpcs({ Filters: [{ Name: "is-default", Values: ["true"] }], Offset: "0", Limit: "100" });
  assert.equal(VpcSet.length, 1);
  const { VpcId, CidrBlock } = VpcSet[0];
  assert.match(VpcId, /^vpc-[0-9a-z]{8}$/);
  assert.equal(CidrBlock, "10.5.0.0/24");
  const subnets = await vpc.DescribeSubnets({
    Filters: [{ Name: "vpc-id", Values: [VpcId] }, { Name: "zone", Values: [zone.Zone] }],
    Offset: "0",
    Limit: "100",
  });
  assert.equal(subnets.TotalCount, 1);
  const subnet = subnets.SubnetSet[0];
  assert.match(subnet.SubnetId, /^subnet-[0-9a-z]{8}$/);
  assert.equal(subnet.VpcId, VpcId);
  assert.equal(subnet.CidrBlock, "10.5.0.0/24");
  assert.equal(subnet.Zone, zone.Zone);
  const free = subnet.AvailableIpAddressCount;
  assert.equal(free, 253);

  // 2. Create three instances there and wait for RUNNING (PENDING first, as in the cloud).
  const run = await cvm.RunInstances({
    InstanceCount: 3,
    InstanceName: "cloud-shaped",
    Placement: { Zone: zone.Zone },
    VirtualPrivateCloud: { VpcId, SubnetId: subnet.SubnetId },
    InternetAccessible: { InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR", InternetMaxBandwidthOut: 10, PublicIpAssigned: true },
  });
  const [keep, release, withEip] = run.InstanceIdSet;
  const all = run.InstanceIdSet;
  const pending = await waitFor(cvm, all, "RUNNING");
  assert.ok(pending.has("PENDING"), `PENDING was seen before RUNNING: ${[...pending]}`);
  let instances = await describe(cvm, all);
  for (const id of all) {
    assert.equal(instances[id].InstanceState, "RUNNING");
    assert.equal(instances[id].StopChargingMode, "NOT_APPLICABLE");
    assert.equal(instances[id].LatestOperation, "RunInstances");
    assert.equal(instances[id].LatestOperationState, "SUCCESS");
    assert.equal(instances[id].VirtualPrivateCloud.SubnetId, subnet.SubnetId);
    assert.match(publicIp(instances[id]), /^203\.0\.113\.\d+$/);
  }
  assert.equal((await vpc.DescribeSubnets({ SubnetIds: [subnet.SubnetId] })).SubnetSet[0].AvailableIpAddressCount, free - 3);
  const original = Object.fromEntries(all.map((id) => [id, publicIp(instances[id])]));

  // 3. One of them gets an EIP: its ordinary public IP goes back to the pool.
  const { AddressSet } = await vpc.AllocateAddresses({ AddressCount: 1 });
  const eip = AddressSet[0];
  await vpc.AssociateAddress({ AddressId: eip, InstanceId: withEip });
  const eipIp = (await vpc.DescribeAddresses({ AddressIds: [eip] })).AddressSet[0].AddressIp;
  assert.equal(publicIp((await describe(cvm, [withEip]))[withEip]), eipIp);

  // 4. Stop: KEEP_CHARGING, STOP_CHARGING, and STOP_CHARGING with an EIP. STOPPING first, then STOPPED.
  await cvm.StopInstances({ InstanceIds: [keep], StopType: "SOFT", StoppedMode: "KEEP_CHARGING" });
  await cvm.StopInstances({ InstanceIds: [release, withEip], StopType: "SOFT_FIRST", StoppedMode: "STOP_CHARGING" });
  instances = await describe(cvm, all);
  assert.equal(instances[keep].InstanceState, "STOPPING");
  assert.equal(instances[keep].LatestOperation, "StopInstances");
  assert.equal(instances[keep].LatestOperationState, "OPERATING");
  const stopping = await waitFor(cvm, all, "STOPPED");
  assert.ok(stopping.has("STOPPING"));
  instances = await describe(cvm, all);
  assert.equal(instances[keep].StopChargingMode, "KEEP_CHARGING");
  assert.equal(publicIp(instances[keep]), original[keep], "KEEP_CHARGING keeps the public IP");
  assert.equal(instances[release].StopChargingMode, "STOP_CHARGING");
  assert.equal(publicIp(instances[release]), null, "STOP_CHARGING releases the ordinary public IP");
  assert.equal(publicIp(instances[withEip]), eipIp, "an EIP stays bound through a STOP_CHARGING stop");
  const eipAddress = (await vpc.DescribeAddresses({ AddressIds: [eip] })).AddressSet[0];
  assert.equal(eipAddress.AddressStatus, "BIND");
  assert.equal(eipAddress.InstanceId, withEip);
  const released = original[release];
  assert.ok(!(await heldAddresses(cvm, vpc)).has(released), `${released} went back to the pool`);

  // 5. A new instance while the released address is free: it gets another one (released last, handed out last).
  const [later] = (await cvm.RunInstances({ InternetAccessible: { InternetMaxBandwidthOut: 1 } })).InstanceIdSet;
  await waitFor(cvm, [later], "RUNNING");
  const laterIp = publicIp((await describe(cvm, [later]))[later]);
  assert.notEqual(laterIp, released);

  // 6. Refusals in the wrong state, for unknown ids and bad filters: the cloud's codes, nothing changed.
  const before = JSON.stringify(await describe(cvm, [...all, later]));
  await rejectsWithCode(cvm.StopInstances({ InstanceIds: [keep], StoppedMode: "STOP_CHARGING" }), "UnsupportedOperation.InstanceStateStopped");
  await rejectsWithCode(cvm.RebootInstances({ InstanceIds: [release] }), "UnsupportedOperation.InstanceStateStopped");
  await rejectsWithCode(cvm.StartInstances({ InstanceIds: [later] }), "UnsupportedOperation.InstanceStateRunning");
  await rejectsWithCode(cvm.StartInstances({ InstanceIds: [keep, "ins-zzzzzzzz"] }), "InvalidInstanceId.NotFound");
  await rejectsWithCode(cvm.StopInstances({ InstanceIds: [later], StoppedMode: "NO_CHARGING" }), "InvalidParameterValue");
  await rejectsWithCode(vpc.DescribeSubnets({ Filters: [{ Name: "owner", Values: ["me"] }] }), "InvalidParameter.FilterInvalidKey");
  await rejectsWithCode(vpc.DescribeVpcs({ VpcIds: [VpcId], Filters: [{ Name: "vpc-id", Values: [VpcId] }] }), "InvalidParameter.Coexist");
  assert.equal(JSON.stringify(await describe(cvm, [...all, later])), before);

  // 7. Start: STARTING, then RUNNING. KEEP_CHARGING: the same address; STOP_CHARGING: a new one, not the released
  //    one while others are free; the EIP instance: its EIP.
  await cvm.StartInstances({ InstanceIds: all });
  const starting = await waitFor(cvm, all, "RUNNING");
  assert.ok(starting.has("STARTING"));
  instances = await describe(cvm, all);
  assert.equal(publicIp(instances[keep]), original[keep]);
  const renewed = publicIp(instances[release]);
  assert.match(renewed, /^203\.0\.113\.\d+$/);
  assert.notEqual(renewed, released, "start assigns a new public IP");
  assert.notEqual(renewed, laterIp);
  assert.equal(publicIp(instances[withEip]), eipIp);
  for (const id of all) assert.equal(instances[id].StopChargingMode, "NOT_APPLICABLE");

  // 8. Reboot keeps every address.
  await cvm.RebootInstances({ InstanceIds: [keep, release], StopType: "SOFT" });
  assert.equal((await describe(cvm, [keep]))[keep].InstanceState, "REBOOTING");
  await waitFor(cvm, all, "RUNNING");
  instances = await describe(cvm, all);
  assert.equal(publicIp(instances[keep]), original[keep]);
  assert.equal(publicIp(instances[release]), renewed);

  // 9. Names, as a console or Terraform changes them.
  await cvm.ModifyInstancesAttribute({ InstanceIds: [keep], InstanceName: "web-1" });
  await vpc.ModifyAddressAttribute({ AddressId: eip, AddressName: "web-eip" });
  assert.equal((await describe(cvm, [keep]))[keep].InstanceName, "web-1");
  assert.equal((await vpc.DescribeAddresses({ AddressIds: [eip] })).AddressSet[0].AddressName, "web-eip");
  const quota = await vpc.DescribeAddressQuota({});
  assert.equal(quota.QuotaSet.find((q) => q.QuotaId === "TOTAL_EIP_QUOTA").QuotaCurrent, 1);

  // 10. Clean up, as a script's teardown does.
  await vpc.DisassociateAddress({ AddressId: eip });
  const { TaskId } = await vpc.ReleaseAddresses({ AddressIds: [eip] });
  assert.equal((await vpc.DescribeTaskResult({ TaskId: Number(TaskId) })).Result, "SUCCESS");
  await cvm.TerminateInstances({ InstanceIds: [...all, later] });
  assert.equal((await cvm.DescribeInstances({})).TotalCount, 0);
  assert.equal((await vpc.DescribeSubnets({ SubnetIds: [subnet.SubnetId] })).SubnetSet[0].AvailableIpAddressCount, free);
});
