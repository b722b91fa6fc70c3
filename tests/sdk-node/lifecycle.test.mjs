// Drives the gateway daemon with the official Tencent Cloud Node SDK (tencentcloud-sdk-nodejs), a client
// no one here wrote: if the wire format, the signature or a field name is wrong, this is where it shows.
//
// The daemon: gateway-daemon.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gatewayDaemon, rejectsWithCode } from "./gateway-daemon.mjs";

const QUOTA = 2;
const gateway = gatewayDaemon(["--public-pool", "198.51.100.0/28", "--subnet", "10.3.0.0/24", "--eip-quota", String(QUOTA)]);
const clients = (keyOverride) => gateway.clients(keyOverride);

before(() => gateway.start());

after(() => gateway.stop());

test("full public-IP lifecycle through the official SDK", async () => {
  const { cvm, vpc } = clients();

  // RunInstances with bandwidth: a public IP from the pool, a private IP from the subnet.
  const run = await cvm.RunInstances({
    InstanceCount: 1,
    Placement: { Zone: "ap-guangzhou-3" },
    InternetAccessible: { InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR", InternetMaxBandwidthOut: 10, PublicIpAssigned: true },
    InstanceName: "sdk-node",
  });
  assert.match(run.RequestId, /^[0-9a-f-]{36}$/);
  assert.equal(run.InstanceIdSet.length, 1);
  const instanceId = run.InstanceIdSet[0];
  assert.match(instanceId, /^ins-[0-9a-z]{8}$/);

  let described = await cvm.DescribeInstances({ InstanceIds: [instanceId] });
  assert.equal(described.TotalCount, 1);
  let instance = described.InstanceSet[0];
  assert.equal(instance.InstanceState, "RUNNING");
  assert.equal(instance.Placement.Zone, "ap-guangzhou-3");
  assert.equal(instance.InternetAccessible.InternetMaxBandwidthOut, 10);
  assert.match(instance.PrivateIpAddresses[0], /^10\.3\.0\.\d+$/);
  const firstPublic = instance.PublicIpAddresses[0];
  assert.match(firstPublic, /^198\.51\.100\.\d+$/);

  // AllocateAddresses: an UNBIND EIP and a task that has succeeded.
  const allocated = await vpc.AllocateAddresses({ AddressCount: 1, AddressName: "sdk" });
  const addressId = allocated.AddressSet[0];
  assert.match(addressId, /^eip-[0-9a-z]{8}$/);
  const task = await vpc.DescribeTaskResult({ TaskId: Number(allocated.TaskId) });
  assert.equal(task.Result, "SUCCESS");
  let address = (await vpc.DescribeAddresses({ AddressIds: [addressId] })).AddressSet[0];
  assert.equal(address.AddressStatus, "UNBIND");
  assert.equal(address.AddressName, "sdk");
  const eipIp = address.AddressIp;
  assert.notEqual(eipIp, firstPublic);

  // AssociateAddress: the EIP becomes the instance's public IP; its old public IP is released.
  await vpc.AssociateAddress({ AddressId: addressId, InstanceId: instanceId });
  instance = (await cvm.DescribeInstances({ InstanceIds: [instanceId] })).InstanceSet[0];
  assert.deepEqual(instance.PublicIpAddresses, [eipIp]);
  const bound = await vpc.DescribeAddresses({ Filters: [{ Name: "address-status", Values: ["BIND"] }] });
  assert.equal(bound.TotalCount, 1);
  assert.equal(bound.AddressSet[0].InstanceId, instanceId);
  assert.equal(bound.AddressSet[0].PrivateAddressIp, instance.PrivateIpAddresses[0]);
  const byOldIp = await cvm.DescribeInstances({ Filters: [{ Name: "public-ip-address", Values: [firstPublic] }] });
  assert.equal(byOldIp.TotalCount, 0, "the original public IP went back to the pool");

  // Errors surface as SDK errors with the service's codes, and change nothing.
  await rejectsWithCode(vpc.ReleaseAddresses({ AddressIds: [addressId] }), "InvalidAddressState");
  await rejectsWithCode(vpc.AssociateAddress({ AddressId: addressId, InstanceId: instanceId }), "InvalidAddressIdStatus.NotPermit");
  await rejectsWithCode(vpc.AllocateAddresses({ AddressCount: QUOTA }), "AddressQuotaLimitExceeded");
  await rejectsWithCode(vpc.DisassociateAddress({ AddressId: "eip-00000000" }), "InvalidAddressId.NotFound");
  await rejectsWithCode(cvm.TerminateInstances({ InstanceIds: ["ins-00000000"] }), "InvalidInstanceId.NotFound");
  await rejectsWithCode(clients("not-the-key").cvm.DescribeInstances({}), "AuthFailure.SignatureFailure");
  const quota = await vpc.DescribeAddressQuota({});
  assert.deepEqual(quota.QuotaSet.find((q) => q.QuotaId === "TOTAL_EIP_QUOTA"), { QuotaId: "TOTAL_EIP_QUOTA", QuotaCurrent: 1, QuotaLimit: QUOTA });

  // DisassociateAddress: the instance gets a new ordinary public IP, not the released one.
  await vpc.DisassociateAddress({ AddressId: addressId });
  instance = (await cvm.DescribeInstances({ InstanceIds: [instanceId] })).InstanceSet[0];
  const secondPublic = instance.PublicIpAddresses[0];
  assert.match(secondPublic, /^198\.51\.100\.\d+$/);
  assert.notEqual(secondPublic, firstPublic);
  assert.notEqual(secondPublic, eipIp);
  address = (await vpc.DescribeAddresses({ AddressIds: [addressId] })).AddressSet[0];
  assert.equal(address.AddressStatus, "UNBIND");
  assert.equal(address.InstanceId, null);

  // ReleaseAddresses, then TerminateInstances.
  await vpc.ReleaseAddresses({ AddressIds: [addressId] });
  assert.equal((await vpc.DescribeAddresses({})).TotalCount, 0);
  await cvm.TerminateInstances({ InstanceIds: [instanceId] });
  assert.equal((await cvm.DescribeInstances({})).TotalCount, 0);
  await rejectsWithCode(cvm.TerminateInstances({ InstanceIds: [instanceId] }), "InvalidInstanceId.NotFound");
});

test("ResetInstancesInternetMaxBandwidth to 0 releases the public IP, and back gives a new one", async () => {
  const { cvm } = clients();
  const [id] = (await cvm.RunInstances({ InternetAccessible: { InternetMaxBandwidthOut: 1 } })).InstanceIdSet;

  await cvm.ResetInstancesInternetMaxBandwidth({ InstanceIds: [id], InternetAccessible: { InternetMaxBandwidthOut: 0 } });
  let instance = (await cvm.DescribeInstances({ InstanceIds: [id] })).InstanceSet[0];
  assert.equal(instance.PublicIpAddresses, null);

  await cvm.ResetInstancesInternetMaxBandwidth({ InstanceIds: [id], InternetAccessible: { InternetMaxBandwidthOut: 5 } });
  instance = (await cvm.DescribeInstances({ InstanceIds: [id] })).InstanceSet[0];
  assert.match(instance.PublicIpAddresses[0], /^198\.51\.100\.\d+$/);

  await cvm.TerminateInstances({ InstanceIds: [id] });
});
