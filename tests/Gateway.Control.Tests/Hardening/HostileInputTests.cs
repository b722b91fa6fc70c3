using System.Globalization;
using System.Text;
using Gateway.Control.Api.Tests;
using Gateway.Control.Auth;
using Gateway.Control.Rules;

namespace Gateway.Control.Hardening.Tests;

/// <summary>
/// Hostile requests, each sent byte for byte over a socket: whatever arrives, the answer is HTTP 200 with the
/// documented error envelope and nothing changes — everything described before and after is equal, the invariants
/// hold and the binding table equals the database.
/// </summary>
public sealed class HostileInputTests : IClassFixture<PopulatedGateway>
{
    private readonly PopulatedGateway _f;

    public HostileInputTests(PopulatedGateway fixture) => _f = fixture;

    private sealed record Case(Func<PopulatedGateway, RawRequest> Build, string Code);

    // ----- The cases. -----

    private static readonly string[] s_badAddressIds =
    [
        "eip-", "eip-XXXXXXXX", "eip-1234567", "eip-123456789", "eip-\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "eip-1234567\u00e9", "eip-1234\u00005678", "eip-12345678 ", "EIP-12345678", "ins-12345678", "ins-XXXX",
        "eip-" + new string('a', 100_000), "\ud83d\ude00", " ",
    ];

    private static readonly string[] s_badInstanceIds =
    [
        "ins-", "ins-XXXXXXXX", "ins-XXXX", "ins-1234567", "ins-\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "ins-1234\n5678",
        "INS-12345678", "eip-12345678", "ins-" + new string('z', 100_000), "\u0000",
    ];

    private static readonly Dictionary<string, Case> s_cases = BuildCases();

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (string name in s_cases.Keys)
        {
            data.Add(name);
        }
        return data;
    }

    private static Dictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>(StringComparer.Ordinal);
        void Add(string name, Func<PopulatedGateway, RawRequest> build, string code) => cases.Add(name, new Case(build, code));

        // Malformed and deeply nested JSON, on an action that would change something if it were accepted.
        string Nest(string open, string close, int depth) =>
            new StringBuilder().Insert(0, open, depth).Append('1').Insert(open.Length * depth + 1, close, depth).ToString();
        var json = new Dictionary<string, string>
        {
            ["nested 10000 arrays"] = "{\"AddressCount\":" + Nest("[", "]", 10_000) + "}",
            ["nested 10000 objects"] = "{\"AddressName\":" + Nest("{\"a\":", "}", 10_000) + "}",
            ["root nested 10000 arrays"] = Nest("[", "]", 10_000),
            ["truncated"] = "{\"AddressCount\": 1",
            ["trailing garbage"] = "{\"AddressCount\":1} x",
            ["two objects"] = "{}{}",
            ["comment"] = "{/*c*/\"AddressCount\":1}",
            ["trailing comma"] = "{\"AddressCount\":1,}",
            ["single quotes"] = "{'AddressCount':1}",
            ["NaN"] = "{\"AddressCount\":NaN}",
            ["number beyond double"] = "{\"AddressCount\":1e999}",
            ["lone surrogate escape"] = "{\"AddressName\":\"\\ud800\"}",
            ["duplicated key"] = "{\"AddressCount\":1,\"AddressCount\":2}",
            ["duplicated key nested"] = "{\"AddressCount\":1,\"AddressName\":\"a\",\"AddressName\":\"b\"}",
            ["root null"] = "null",
            ["root string"] = "\"AddressCount\"",
            ["root number"] = "1",
            ["control character in string"] = "{\"AddressName\":\"a\u0001b\"}",
        };
        foreach (var (name, body) in json)
        {
            Add($"json: {name}", f => f.Signed("AllocateAddresses", body), ErrorCodes.InvalidParameter);
        }
        Add("json: invalid UTF-8", f => f.Signed("AllocateAddresses", [.. "{\"AddressName\":\""u8, 0xff, 0xfe, .. "\"}"u8]), ErrorCodes.InvalidParameter);

        // A parameter of the wrong JSON type, for every parameter of every action.
        foreach (var (action, baseBody, parameter, kind) in Parameters())
        {
            foreach (string wrong in WrongValues(kind))
            {
                Add($"type: {action} {parameter} = {wrong}", f => f.Signed(action, WithParameter(baseBody(f), parameter, wrong)), ErrorCodes.InvalidParameter);
            }
        }

        // Ids of the wrong format.
        for (int i = 0; i < s_badAddressIds.Length; i++)
        {
            string bad = Quote(s_badAddressIds[i]);
            string code = s_badAddressIds[i] == " " ? ErrorCodes.AddressIdMalformed : ErrorCodes.AddressIdMalformed;
            Add($"id: AssociateAddress AddressId #{i}", f => f.Signed("AssociateAddress", $"{{\"AddressId\":{bad},\"InstanceId\":\"{f.Instances[1]}\"}}"), code);
            Add($"id: DisassociateAddress AddressId #{i}", f => f.Signed("DisassociateAddress", $"{{\"AddressId\":{bad}}}"), code);
            Add($"id: ReleaseAddresses AddressIds #{i}", f => f.Signed("ReleaseAddresses", $"{{\"AddressIds\":[{bad}]}}"), code);
            Add($"id: ReleaseAddresses a good and a bad id #{i}", f => f.Signed("ReleaseAddresses", $"{{\"AddressIds\":[\"{f.Eips[1]}\",{bad}]}}"), code);
            Add($"id: DescribeAddresses AddressIds #{i}", f => f.Signed("DescribeAddresses", $"{{\"AddressIds\":[{bad}]}}"), code);
            Add($"id: ModifyAddressAttribute AddressId #{i}", f => f.Signed("ModifyAddressAttribute", $"{{\"AddressId\":{bad},\"AddressName\":\"x\"}}"), code);
        }
        for (int i = 0; i < s_badInstanceIds.Length; i++)
        {
            string bad = Quote(s_badInstanceIds[i]);
            Add($"id: AssociateAddress InstanceId #{i}", f => f.Signed("AssociateAddress", $"{{\"AddressId\":\"{f.Eips[1]}\",\"InstanceId\":{bad}}}"), ErrorCodes.InstanceIdMalformedVpc);
            Add($"id: TerminateInstances #{i}", f => f.Signed("TerminateInstances", $"{{\"InstanceIds\":[{bad}]}}"), ErrorCodes.InstanceIdMalformed);
            Add($"id: TerminateInstances a good and a bad id #{i}", f => f.Signed("TerminateInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\",{bad}]}}"), ErrorCodes.InstanceIdMalformed);
            Add($"id: ResetInstancesInternetMaxBandwidth #{i}", f => f.Signed("ResetInstancesInternetMaxBandwidth",
                $"{{\"InstanceIds\":[\"{f.Instances[1]}\",{bad}],\"InternetAccessible\":{{\"InternetMaxBandwidthOut\":0}}}}"), ErrorCodes.InstanceIdMalformed);
            Add($"id: DescribeInstances #{i}", f => f.Signed("DescribeInstances", $"{{\"InstanceIds\":[{bad}]}}"), ErrorCodes.InstanceIdMalformed);
            foreach (string action in (string[])["StopInstances", "StartInstances", "RebootInstances", "DescribeInstancesStatus"])
            {
                Add($"id: {action} #{i}", f => f.Signed(action, $"{{\"InstanceIds\":[\"{f.Instances[1]}\",{bad}]}}"), ErrorCodes.InstanceIdMalformed);
            }
            Add($"id: ModifyInstancesAttribute #{i}", f => f.Signed("ModifyInstancesAttribute", $"{{\"InstanceIds\":[\"{f.Instances[1]}\",{bad}],\"InstanceName\":\"x\"}}"), ErrorCodes.InstanceIdMalformed);
        }
        Add("id: ReleaseAddresses unknown well-formed id", f => f.Signed("ReleaseAddresses", $"{{\"AddressIds\":[\"{f.Eips[1]}\",\"eip-zzzzzzzz\"]}}"), ErrorCodes.AddressIdNotFound);
        Add("id: TerminateInstances unknown well-formed id", f => f.Signed("TerminateInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\",\"ins-zzzzzzzz\"]}}"), ErrorCodes.InstanceIdNotFound);
        Add("id: StopInstances unknown well-formed id", f => f.Signed("StopInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\",\"ins-zzzzzzzz\"],\"StoppedMode\":\"STOP_CHARGING\"}}"), ErrorCodes.InstanceIdNotFound);
        Add("id: ModifyInstancesAttribute unknown well-formed id", f => f.Signed("ModifyInstancesAttribute", $"{{\"InstanceIds\":[\"{f.Instances[1]}\",\"ins-zzzzzzzz\"],\"InstanceName\":\"x\"}}"), ErrorCodes.InstanceIdNotFound);
        Add("id: DescribeVpcs a malformed VpcId", f => f.Signed("DescribeVpcs", "{\"VpcIds\":[\"vpc-\"]}"), ErrorCodes.ValueMalformed);
        Add("id: DescribeSubnets a malformed SubnetId", f => f.Signed("DescribeSubnets", "{\"SubnetIds\":[\"subnet-ABCDEFGH\"]}"), ErrorCodes.ValueMalformed);
        Add("filter: DescribeSubnets an unknown filter", f => f.Signed("DescribeSubnets", "{\"Filters\":[{\"Name\":\"owner\",\"Values\":[\"me\"]}]}"), ErrorCodes.FilterInvalidKey);
        Add("filter: DescribeVpcs ids and filters together", f => f.Signed("DescribeVpcs", "{\"VpcIds\":[\"vpc-12345678\"],\"Filters\":[{\"Name\":\"is-default\",\"Values\":[\"true\"]}]}"), ErrorCodes.ParameterCoexist);
        Add("value: StopInstances an unknown StoppedMode", f => f.Signed("StopInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\"],\"StoppedMode\":\"stop_charging\"}}"), ErrorCodes.InvalidParameterValue);
        Add("value: RebootInstances an unknown StopType", f => f.Signed("RebootInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\"],\"StopType\":\"REALLY_HARD\"}}"), ErrorCodes.InvalidParameterValue);
        Add("state: StartInstances a running instance", f => f.Signed("StartInstances", $"{{\"InstanceIds\":[\"{f.Instances[1]}\"]}}"), "UnsupportedOperation.InstanceStateRunning");
        Add("bound: ModifyInstancesAttribute a 61-character InstanceName", f => f.Signed("ModifyInstancesAttribute", $"{{\"InstanceIds\":[\"{f.Instances[1]}\"],\"InstanceName\":\"{new string('n', 61)}\"}}"), ErrorCodes.InstanceNameTooLong);
        Add("id: AssociateAddress to an unknown instance", f => f.Signed("AssociateAddress", $"{{\"AddressId\":\"{f.Eips[1]}\",\"InstanceId\":\"ins-zzzzzzzz\"}}"), ErrorCodes.InstanceIdNotFound);

        // Huge arrays and counts: at most 100 ids per request, as the real service.
        string Many(int n, string id) => "[" + string.Join(",", Enumerable.Repeat(Quote(id), n)) + "]";
        foreach (int n in (int[])[101, 100_000])
        {
            Add($"bound: ReleaseAddresses {n} AddressIds", f => f.Signed("ReleaseAddresses", $"{{\"AddressIds\":{Many(n, f.Eips[1])}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: DescribeAddresses {n} AddressIds", f => f.Signed("DescribeAddresses", $"{{\"AddressIds\":{Many(n, "eip-zzzzzzzz")}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: TerminateInstances {n} InstanceIds", f => f.Signed("TerminateInstances", $"{{\"InstanceIds\":{Many(n, f.Instances[1])}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: DescribeInstances {n} InstanceIds", f => f.Signed("DescribeInstances", $"{{\"InstanceIds\":{Many(n, "ins-zzzzzzzz")}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: ResetInstancesInternetMaxBandwidth {n} InstanceIds", f => f.Signed("ResetInstancesInternetMaxBandwidth",
                $"{{\"InstanceIds\":{Many(n, f.Instances[1])},\"InternetAccessible\":{{\"InternetMaxBandwidthOut\":0}}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: RunInstances {n} PrivateIpAddresses", f => f.Signed("RunInstances",
                $"{{\"VirtualPrivateCloud\":{{\"PrivateIpAddresses\":{Many(n, "10.3.0.200")}}}}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: DescribeAddresses a filter with {n} values", f => f.Signed("DescribeAddresses",
                $"{{\"Filters\":[{{\"Name\":\"address-id\",\"Values\":{Many(n, "eip-zzzzzzzz")}}}]}}"), ErrorCodes.InvalidParameterValueLimitExceeded);
            Add($"bound: DescribeInstances {n} filters", f => f.Signed("DescribeInstances",
                "{\"Filters\":[" + string.Join(",", Enumerable.Repeat("{\"Name\":\"zone\",\"Values\":[\"z\"]}", n)) + "]}"), ErrorCodes.InvalidParameterValueLimitExceeded);
        }
        Add("bound: RunInstances InstanceCount 101", f => f.Signed("RunInstances", "{\"InstanceCount\":101}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: RunInstances InstanceCount 2147483647", f => f.Signed("RunInstances", "{\"InstanceCount\":2147483647}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: AllocateAddresses AddressCount 101", f => f.Signed("AllocateAddresses", "{\"AddressCount\":101}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: AllocateAddresses AddressCount -1", f => f.Signed("AllocateAddresses", "{\"AddressCount\":-1}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: DescribeAddresses Limit 101", f => f.Signed("DescribeAddresses", "{\"Limit\":101}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: DescribeInstances Limit 0", f => f.Signed("DescribeInstances", "{\"Limit\":0}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: DescribeInstances Offset -1", f => f.Signed("DescribeInstances", "{\"Offset\":-1}"), ErrorCodes.InvalidParameterValueRange);
        Add("bound: AllocateAddresses a 129-character AddressName", f => f.Signed("AllocateAddresses", $"{{\"AddressName\":\"{new string('n', 129)}\"}}"), ErrorCodes.InvalidParameterValueTooLong);
        Add("bound: AllocateAddresses a 1 MiB AddressName", f => f.Signed("AllocateAddresses", $"{{\"AddressName\":\"{new string('n', 1 << 20)}\"}}"), ErrorCodes.InvalidParameterValueTooLong);
        Add("bound: RunInstances a 129-character InstanceName", f => f.Signed("RunInstances", $"{{\"InstanceName\":\"{new string('n', 129)}\"}}"), ErrorCodes.InvalidParameterValueTooLong);
        foreach (string parameter in (string[])["ImageId", "InstanceType"])
        {
            Add($"bound: RunInstances a 1 MiB {parameter}", f => f.Signed("RunInstances", $"{{\"{parameter}\":\"{new string('x', 1 << 20)}\"}}"), ErrorCodes.InvalidParameterValueTooLong);
        }
        Add("bound: RunInstances a 1 MiB Placement.Zone", f => f.Signed("RunInstances", $"{{\"Placement\":{{\"Zone\":\"{new string('x', 1 << 20)}\"}}}}"), ErrorCodes.InvalidParameterValueTooLong);
        Add("bound: RunInstances a 1 MiB InternetChargeType", f => f.Signed("RunInstances",
            $"{{\"InternetAccessible\":{{\"InternetMaxBandwidthOut\":1,\"InternetChargeType\":\"{new string('x', 1 << 20)}\"}}}}"), ErrorCodes.InvalidParameterValueTooLong);

        // Oversized bodies: announced, sent whole, sent chunked without a length.
        Add("size: body over the limit", f => f.Signed("AllocateAddresses", BigBody(PopulatedGateway.MaxBody + 1)), ErrorCodes.RequestSizeLimitExceeded);
        Add("size: Content-Length of 100 GB announced, 2 bytes sent", f => f.Signed("AllocateAddresses", "{}") with { ContentLength = false } is var r
            ? r.With("Content-Length", "100000000000") : r, ErrorCodes.RequestSizeLimitExceeded);
        Add("size: chunked body over the limit", f =>
        {
            byte[] body = BigBody(PopulatedGateway.MaxBody + 100_000);
            var signed = f.Signed("AllocateAddresses", body);
            return signed with { ContentLength = false, Body = Chunked(body) } is var r ? r.With("Transfer-Encoding", "chunked") : r;
        }, ErrorCodes.RequestSizeLimitExceeded);

        // Missing and duplicated headers.
        foreach (string header in (string[])["X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region"])
        {
            Add($"header: {header} missing", f => f.Signed("AllocateAddresses", "{}").Without(header), ErrorCodes.MissingParameter);
            Add($"header: {header} empty", f => f.Signed("AllocateAddresses", "{}").Replace(header, ""), ErrorCodes.MissingParameter);
            Add($"header: {header} twice, the same", f => f.Signed("AllocateAddresses", "{}") is var r ? r.With(header, r.Headers.First(h => h.Name == header).Value) : r, ErrorCodes.InvalidParameter);
        }
        Add("header: X-TC-Action twice, Describe then Release", f => f.Signed("DescribeAddresses", $"{{\"AddressIds\":[\"{f.Eips[1]}\"]}}").With("X-TC-Action", "ReleaseAddresses"), ErrorCodes.InvalidParameter);
        Add("header: X-TC-Action twice, Release then Describe", f => f.Signed("ReleaseAddresses", $"{{\"AddressIds\":[\"{f.Eips[1]}\"]}}").With("X-TC-Action", "DescribeAddresses"), ErrorCodes.InvalidParameter);
        Add("header: Authorization missing", f => f.Signed("AllocateAddresses", "{}").Without("Authorization"), ErrorCodes.SignatureFailure);
        Add("header: Authorization twice, the same", f => f.Signed("AllocateAddresses", "{}") is var r ? r.With("Authorization", r.Headers.First(h => h.Name == "Authorization").Value) : r, ErrorCodes.InvalidAuthorization);
        Add("header: Authorization twice, good then bad", f => f.Signed("AllocateAddresses", "{}").With("Authorization", "TC3-HMAC-SHA256 Credential=AKIDx/2020-01-01/vpc/tc3_request, SignedHeaders=content-type;host, Signature=00"), ErrorCodes.InvalidAuthorization);
        Add("header: Authorization twice, bad then good", f => f.Signed("AllocateAddresses", "{}") is var r
            ? r.Replace("Authorization", "TC3-HMAC-SHA256 Credential=AKIDx/2020-01-01/vpc/tc3_request, SignedHeaders=content-type;host, Signature=00").With("Authorization", r.Headers.First(h => h.Name == "Authorization").Value) : r,
            ErrorCodes.InvalidAuthorization);
        Add("header: Content-Type twice", f => f.Signed("AllocateAddresses", "{}").With("Content-Type", "application/json"), ErrorCodes.InvalidParameter);
        Add("header: Content-Type missing", f => f.Signed("AllocateAddresses", "{}").Without("Content-Type"), ErrorCodes.SignatureFailure);

        // Bad signatures.
        Add("signature: wrong secret key", f => RawRequest.Signed(f.Port, ApiFixture.Keys with { SecretKey = "not-the-key" }, "AllocateAddresses", "{}"u8.ToArray()), ErrorCodes.SignatureFailure);
        Add("signature: unknown secret id", f => RawRequest.Signed(f.Port, ApiFixture.Keys with { SecretId = "AKIDnobody" }, "AllocateAddresses", "{}"u8.ToArray()), ErrorCodes.SecretIdNotFound);
        Add("signature: one hex digit changed", f => Tamper(f.Signed("AllocateAddresses", "{}"), s => s[..^1] + (s[^1] == '0' ? '1' : '0')), ErrorCodes.SignatureFailure);
        Add("signature: upper-case hex", f => Tamper(f.Signed("AllocateAddresses", "{}"), s => s.ToUpperInvariant()), ErrorCodes.SignatureFailure);
        Add("signature: truncated", f => Tamper(f.Signed("AllocateAddresses", "{}"), s => s[..32]), ErrorCodes.SignatureFailure);
        Add("signature: empty", f => Tamper(f.Signed("AllocateAddresses", "{}"), _ => ""), ErrorCodes.SignatureFailure);
        Add("signature: 20 KB", f => Tamper(f.Signed("AllocateAddresses", "{}"), _ => new string('a', 20_000)), ErrorCodes.SignatureFailure);
        Add("signature: SignedHeaders without host", f => f.Signed("AllocateAddresses", "{}") is var r
            ? r.Replace("Authorization", r.Headers.First(h => h.Name == "Authorization").Value.Replace("content-type;host", "content-type", StringComparison.Ordinal)) : r, ErrorCodes.SignatureFailure);
        Add("signature: another algorithm", f => f.Signed("AllocateAddresses", "{}") is var r
            ? r.Replace("Authorization", r.Headers.First(h => h.Name == "Authorization").Value.Replace("TC3-HMAC-SHA256", "TC3-HMAC-SHA1", StringComparison.Ordinal)) : r, ErrorCodes.InvalidAuthorization);
        Add("signature: body changed after signing", f => f.Signed("AllocateAddresses", "{}") with { Body = "{\"AddressCount\":2}"u8.ToArray() }, ErrorCodes.SignatureFailure);
        Add("signature: signed for another host", f => f.Signed("AllocateAddresses", "{}").Replace("Host", "gateway.example:80"), ErrorCodes.SignatureFailure);

        // Timestamps.
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Add("time: 6 minutes old", f => f.Signed("AllocateAddresses", "{}", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 360), ErrorCodes.SignatureExpire);
        Add("time: 6 minutes ahead", f => f.Signed("AllocateAddresses", "{}", DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 360), ErrorCodes.SignatureExpire);
        Add("time: the epoch", f => f.Signed("AllocateAddresses", "{}", 0), ErrorCodes.SignatureExpire);
        Add("time: year 9999", f => f.Signed("AllocateAddresses", "{}", 253_402_300_799), ErrorCodes.SignatureExpire);
        Add("time: long.MaxValue", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Timestamp", long.MaxValue.ToString(CultureInfo.InvariantCulture)), ErrorCodes.SignatureExpire);
        Add("time: beyond a long", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Timestamp", "99999999999999999999"), ErrorCodes.InvalidParameterValue);
        Add("time: negative", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Timestamp", "-5"), ErrorCodes.InvalidParameterValue);
        Add("time: milliseconds", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Timestamp", (now * 1000).ToString(CultureInfo.InvariantCulture)), ErrorCodes.SignatureExpire);
        Add("time: not a number", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Timestamp", "yesterday"), ErrorCodes.InvalidParameterValue);

        // The request line.
        foreach (string method in (string[])["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
        {
            Add($"http: {method}", f => f.Signed("AllocateAddresses", "{}") with { Method = method }, ErrorCodes.UnsupportedProtocol);
        }
        Add("http: unknown action", f => f.Signed("DeleteEverything", "{}"), ErrorCodes.InvalidAction);
        Add("http: a 16 KB action", f => f.Signed(new string('A', 16_000), "{}"), ErrorCodes.InvalidAction);
        Add("http: wrong version", f => f.Signed("AllocateAddresses", "{}").Replace("X-TC-Version", "2099-01-01"), ErrorCodes.NoSuchVersion);
        return cases;
    }

    private static byte[] BigBody(long size) =>
        Encoding.UTF8.GetBytes("{\"AddressName\":\"" + new string('x', (int)size) + "\"}");

    private static byte[] Chunked(byte[] body)
    {
        using var s = new MemoryStream();
        for (int at = 0; at < body.Length; at += 65536)
        {
            int n = Math.Min(65536, body.Length - at);
            s.Write(Encoding.ASCII.GetBytes(n.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
            s.Write(body, at, n);
            s.Write("\r\n"u8);
        }
        s.Write("0\r\n\r\n"u8);
        return s.ToArray();
    }

    private static RawRequest Tamper(RawRequest request, Func<string, string> signature)
    {
        string authorization = request.Headers.First(h => h.Name == "Authorization").Value;
        int at = authorization.IndexOf("Signature=", StringComparison.Ordinal) + "Signature=".Length;
        return request.Replace("Authorization", authorization[..at] + signature(authorization[at..]));
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private enum Kind { String, Int, Long, Bool, Strings, Object, Filters, IntText }

    private static IEnumerable<(string Action, Func<PopulatedGateway, string> Base, string Parameter, Kind Kind)> Parameters()
    {
        Func<PopulatedGateway, string> empty = _ => "{}";
        foreach (var (p, k) in (IEnumerable<(string, Kind)>)[("AddressCount", Kind.Int), ("AddressName", Kind.String), ("InternetMaxBandwidthOut", Kind.Int), ("InternetChargeType", Kind.String), ("AddressType", Kind.String)])
        {
            yield return ("AllocateAddresses", empty, p, k);
        }
        Func<PopulatedGateway, string> associate = f => $"{{\"AddressId\":\"{f.Eips[1]}\",\"InstanceId\":\"{f.Instances[1]}\"}}";
        yield return ("AssociateAddress", associate, "AddressId", Kind.String);
        yield return ("AssociateAddress", associate, "InstanceId", Kind.String);
        yield return ("AssociateAddress", associate, "NetworkInterfaceId", Kind.String);
        Func<PopulatedGateway, string> disassociate = f => $"{{\"AddressId\":\"{f.Eips[0]}\"}}";
        yield return ("DisassociateAddress", disassociate, "AddressId", Kind.String);
        yield return ("DisassociateAddress", disassociate, "ReallocateNormalPublicIp", Kind.Bool);
        yield return ("ReleaseAddresses", f => $"{{\"AddressIds\":[\"{f.Eips[1]}\"]}}", "AddressIds", Kind.Strings);
        foreach (var (p, k) in (IEnumerable<(string, Kind)>)[("AddressIds", Kind.Strings), ("Filters", Kind.Filters), ("Offset", Kind.Int), ("Limit", Kind.Int)])
        {
            yield return ("DescribeAddresses", empty, p, k);
            yield return ("DescribeInstances", empty, p == "AddressIds" ? "InstanceIds" : p, k);
        }
        yield return ("DescribeTaskResult", _ => "{\"TaskId\":1}", "TaskId", Kind.Long);
        Func<PopulatedGateway, string> run = _ => "{\"InstanceCount\":1,\"InternetAccessible\":{\"InternetMaxBandwidthOut\":1},\"VirtualPrivateCloud\":{\"VpcId\":\"DEFAULT\",\"SubnetId\":\"DEFAULT\"}}";
        foreach (var (p, k) in (IEnumerable<(string, Kind)>)[
            ("InstanceCount", Kind.Int), ("InternetAccessible", Kind.Object), ("InternetAccessible.InternetMaxBandwidthOut", Kind.Int),
            ("InternetAccessible.PublicIpAssigned", Kind.Bool), ("InternetAccessible.InternetChargeType", Kind.String),
            ("VirtualPrivateCloud", Kind.Object), ("VirtualPrivateCloud.VpcId", Kind.String), ("VirtualPrivateCloud.SubnetId", Kind.String),
            ("VirtualPrivateCloud.PrivateIpAddresses", Kind.Strings), ("InstanceName", Kind.String), ("Placement", Kind.Object),
            ("Placement.Zone", Kind.String), ("InstanceType", Kind.String), ("ImageId", Kind.String), ("DryRun", Kind.Bool)])
        {
            yield return ("RunInstances", run, p, k);
        }
        Func<PopulatedGateway, string> terminate = f => $"{{\"InstanceIds\":[\"{f.Instances[1]}\"]}}";
        yield return ("TerminateInstances", terminate, "InstanceIds", Kind.Strings);
        yield return ("TerminateInstances", terminate, "ReleaseAddress", Kind.Bool);
        Func<PopulatedGateway, string> reset = f => $"{{\"InstanceIds\":[\"{f.Instances[1]}\"],\"InternetAccessible\":{{\"InternetMaxBandwidthOut\":5}}}}";
        yield return ("ResetInstancesInternetMaxBandwidth", reset, "InstanceIds", Kind.Strings);
        yield return ("ResetInstancesInternetMaxBandwidth", reset, "InternetAccessible", Kind.Object);
        yield return ("ResetInstancesInternetMaxBandwidth", reset, "InternetAccessible.InternetMaxBandwidthOut", Kind.Int);
        Func<PopulatedGateway, string> instances = f => $"{{\"InstanceIds\":[\"{f.Instances[1]}\"]}}";
        foreach (var (action, p, k) in (IEnumerable<(string, string, Kind)>)[
            ("StopInstances", "InstanceIds", Kind.Strings), ("StopInstances", "StopType", Kind.String), ("StopInstances", "StoppedMode", Kind.String),
            ("StopInstances", "StopChargingMode", Kind.String), ("StopInstances", "ForceStop", Kind.Bool),
            ("StartInstances", "InstanceIds", Kind.Strings),
            ("RebootInstances", "InstanceIds", Kind.Strings), ("RebootInstances", "StopType", Kind.String), ("RebootInstances", "ForceReboot", Kind.Bool),
            ("DescribeInstancesStatus", "InstanceIds", Kind.Strings), ("DescribeInstancesStatus", "Offset", Kind.Int), ("DescribeInstancesStatus", "Limit", Kind.Int),
            ("ModifyInstancesAttribute", "InstanceIds", Kind.Strings), ("ModifyInstancesAttribute", "InstanceName", Kind.String)])
        {
            yield return (action, instances, p, k);
        }
        Func<PopulatedGateway, string> addressName = f => $"{{\"AddressId\":\"{f.Eips[1]}\",\"AddressName\":\"n\"}}";
        yield return ("ModifyAddressAttribute", addressName, "AddressId", Kind.String);
        yield return ("ModifyAddressAttribute", addressName, "AddressName", Kind.String);
        foreach (var (action, ids) in (IEnumerable<(string, string)>)[("DescribeVpcs", "VpcIds"), ("DescribeSubnets", "SubnetIds")])
        {
            yield return (action, empty, ids, Kind.Strings);
            yield return (action, empty, "Filters", Kind.Filters);
            yield return (action, empty, "Offset", Kind.IntText);
            yield return (action, empty, "Limit", Kind.IntText);
        }
    }

    private static string[] WrongValues(Kind kind) => kind switch
    {
        Kind.String => ["1", "true", "[]", "{}", "[\"a\"]"],
        Kind.Int => ["\"1\"", "1.5", "true", "[]", "{}", "4294967296", "1e3"],
        Kind.Long => ["1.5", "true", "[]", "{}", "\"one\"", "\"-1\""],
        Kind.Bool => ["\"true\"", "1", "0", "[]", "{}", "\"false\""],
        Kind.Strings => ["\"ins-12345678\"", "[1]", "[null]", "{}", "[[]]", "[{}]", "[true]"],
        Kind.Object => ["\"x\"", "[]", "1", "true"],
        Kind.Filters => ["\"x\"", "{}", "[1]", "[{\"Name\":1,\"Values\":[]}]", "[{\"Name\":\"zone\",\"Values\":\"x\"}]", "[{\"Name\":\"zone\",\"Values\":[1]}]", "[[]]"],
        // vpc's DescribeVpcs/DescribeSubnets Offset and Limit: "20" and 20 are both fine.
        Kind.IntText => ["true", "[]", "{}", "[\"1\"]"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string WithParameter(string body, string path, string value)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject();
        string[] parts = path.Split('.');
        var at = root;
        foreach (string part in parts[..^1])
        {
            if (at[part] is not System.Text.Json.Nodes.JsonObject next)
            {
                at[part] = next = [];
            }
            at = next;
        }
        at[parts[^1]] = System.Text.Json.Nodes.JsonNode.Parse(value);
        return root.ToJsonString();
    }

    // ----- The tests. -----

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task HostileRequest_GetsTheErrorEnvelopeAndChangesNothing(string name)
    {
        var c = s_cases[name];
        string before = await _f.CheckedSnapshotAsync();

        Assert.Equal(c.Code, await _f.ErrorCodeOfAsync(c.Build(_f)));

        Assert.Equal(before, await _f.CheckedSnapshotAsync());
    }

    [Fact]
    public async Task TwoHostHeaders_AreRefusedByTheHttpServerAndChangeNothing()
    {
        // Kestrel refuses a request with two Host headers (RFC 9112 section 3.2) before the API sees it: HTTP 400, no envelope.
        string before = await _f.CheckedSnapshotAsync();

        var (status, _) = await RawHttp.SendAsync(_f.Port, _f.Signed("AllocateAddresses", "{}").With("Host", "127.0.0.1"));

        Assert.Equal(400, status);
        Assert.Equal(before, await _f.CheckedSnapshotAsync());
    }

    [Fact]
    public async Task HeadersOver64KiB_AreRefusedByTheHttpServerAndChangeNothing()
    {
        // Kestrel's header limit (32 KiB in all) answers 431 before the API sees the request.
        string before = await _f.CheckedSnapshotAsync();

        var (status, _) = await RawHttp.SendAsync(_f.Port, _f.Signed("AllocateAddresses", "{}").With("X-Padding", new string('p', 64 * 1024)));

        Assert.Equal(431, status);
        Assert.Equal(before, await _f.CheckedSnapshotAsync());
    }

    [Fact]
    public async Task ExactlyOneHundredIds_AreWithinTheBound()
    {
        string ids = "[" + string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"eip-{i:d8}\"")) + "]";

        Assert.Null(await _f.ErrorCodeOfAsync(_f.Signed("DescribeAddresses", $"{{\"AddressIds\":{ids}}}")));
        Assert.Equal(ErrorCodes.AddressIdNotFound, await _f.ErrorCodeOfAsync(_f.Signed("ReleaseAddresses", $"{{\"AddressIds\":{ids}}}")));
    }

    [Fact]
    public async Task TheSecretKeyNeverAppearsInAnAnswer()
    {
        // Wrong keys, a wrong id and an internal-looking failure: none of the messages may echo a key.
        foreach (var request in (RawRequest[])[
            RawRequest.Signed(_f.Port, ApiFixture.Keys with { SecretKey = "wrong" }, "DescribeAddresses", "{}"u8.ToArray()),
            RawRequest.Signed(_f.Port, ApiFixture.Keys with { SecretId = "AKIDnobody" }, "DescribeAddresses", "{}"u8.ToArray()),
            _f.Signed("DescribeAddresses", "{\"Limit\":\"x\"}"),
        ])
        {
            var (_, body) = await RawHttp.SendAsync(_f.Port, request);
            Assert.DoesNotContain(ApiFixture.Keys.SecretKey, body, StringComparison.Ordinal);
        }
    }
}
