// The official SDK's monitor client (monitor.v20180724) reads the gateway's metering through GetMonitorData: the
// response shape it parses, several instances per call, and the error codes for what is not served.
// (Traffic figures against iperf3 are checked by the namespace end-to-end tests, which call monitor-read.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gatewayDaemon, rejectsWithCode } from "./gateway-daemon.mjs";

const gateway = gatewayDaemon(["--public-pool", "198.51.100.0/28", "--subnet", "10.3.0.0/24"]);
const clients = () => gateway.clients();

const dims = (id) => ({ Dimensions: [{ Name: "InstanceId", Value: id }] });

before(() => gateway.start());
after(() => gateway.stop());

test("GetMonitorData answers in the shape the SDK reads, one DataPoint per instance, closed 10-s periods", async () => {
  const { monitor, cvm } = clients();
  const ids = (await cvm.RunInstances({ InstanceCount: 2, InternetAccessible: { InternetMaxBandwidthOut: 5 } })).InstanceIdSet;
  const start = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "+00:00");
  // Wait for the first 10-s period after start-up to close and be written.
  await new Promise((r) => setTimeout(r, 21_000));

  for (const metric of ["WanOuttraffic", "WanIntraffic", "WanOutpkg", "WanInpkg", "AccOuttraffic"]) {
    const r = await monitor.GetMonitorData({ Namespace: "QCE/CVM", MetricName: metric, Period: 10, StartTime: start, Instances: ids.map(dims) });
    assert.equal(r.MetricName, metric);
    assert.equal(r.Period, 10);
    assert.ok(r.StartTime && r.EndTime, "StartTime and EndTime are answered");
    assert.match(r.RequestId, /^[0-9a-f-]{36}$/);
    assert.equal(r.DataPoints.length, 2);
    r.DataPoints.forEach((point, i) => {
      assert.deepEqual(point.Dimensions, [{ Name: "InstanceId", Value: ids[i] }]);
      assert.ok(point.Timestamps.length >= 1, `at least one closed period for ${metric}`);
      assert.equal(point.Values.length, point.Timestamps.length);
      for (const t of point.Timestamps) {
        assert.equal(t % 10, 0, "timestamps are period starts, multiples of the period");
      }
      assert.deepEqual(point.Values, point.Values.map(() => 0), "no traffic: zeros");
    });
  }

  // Period 60 and 300 are served; points only for periods that have closed.
  for (const period of [60, 300]) {
    const r = await monitor.GetMonitorData({ Namespace: "QCE/CVM", MetricName: "WanOuttraffic", Period: period, Instances: [dims(ids[0])] });
    assert.equal(r.Period, period);
    for (const t of r.DataPoints[0].Timestamps) {
      assert.equal(t % period, 0);
    }
  }
});

test("GetMonitorData refuses what is not served with the cloud's codes", async () => {
  const { monitor } = clients();
  const base = { Namespace: "QCE/CVM", MetricName: "WanOuttraffic", Period: 60, Instances: [dims("ins-00000000")] };
  await rejectsWithCode(monitor.GetMonitorData({ ...base, Namespace: "QCE/CDB" }), "InvalidParameterValue");
  await rejectsWithCode(monitor.GetMonitorData({ ...base, MetricName: "CPUUsage" }), "InvalidParameterValue");
  await rejectsWithCode(monitor.GetMonitorData({ ...base, Period: 30 }), "InvalidParameterValue");
  await rejectsWithCode(monitor.GetMonitorData({ ...base, Instances: [{ Dimensions: [{ Name: "unInstanceId", Value: "x" }] }] }), "InvalidParameterValue");
  await rejectsWithCode(monitor.GetMonitorData({ ...base, StartTime: "2020-01-02T00:00:00+08:00", EndTime: "2020-01-01T00:00:00+08:00" }), "InvalidParameterValue");
  await rejectsWithCode(monitor.GetMonitorData({ Namespace: "QCE/CVM", MetricName: "WanOuttraffic" }), "MissingParameter");
  await rejectsWithCode(monitor.GetMonitorData({ ...base, Period: 10, StartTime: "2020-01-01T00:00:00+08:00", EndTime: "2020-01-02T00:00:00+08:00" }), "InvalidParameterValue.LimitExceeded");
});
