// Reads monitor metrics for one instance through the official SDK and prints the responses as JSON; the namespace
// end-to-end tests (tests/Gateway.EndToEnd.Tests) call it to compare the gateway's metering with iperf3.
// Environment: GATEWAY_API (host:port), GATEWAY_SECRET_ID, GATEWAY_SECRET_KEY, INSTANCE_ID, START_TIME, END_TIME,
// PERIOD (default 10), METRICS (comma-separated, default WanOuttraffic,AccOuttraffic).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const tencentcloud = require("tencentcloud-sdk-nodejs");
const client = new tencentcloud.monitor.v20180724.Client({
  credential: { secretId: process.env.GATEWAY_SECRET_ID, secretKey: process.env.GATEWAY_SECRET_KEY },
  region: "ap-guangzhou",
  profile: { httpProfile: { endpoint: process.env.GATEWAY_API, protocol: "http://", reqTimeout: 30 } },
});
const result = {};
for (const metric of (process.env.METRICS ?? "WanOuttraffic,AccOuttraffic").split(",")) {
  result[metric] = await client.GetMonitorData({
    Namespace: "QCE/CVM",
    MetricName: metric,
    Period: Number(process.env.PERIOD ?? 10),
    StartTime: process.env.START_TIME,
    EndTime: process.env.END_TIME,
    Instances: [{ Dimensions: [{ Name: "InstanceId", Value: process.env.INSTANCE_ID }] }],
  });
}
console.log(JSON.stringify(result));
