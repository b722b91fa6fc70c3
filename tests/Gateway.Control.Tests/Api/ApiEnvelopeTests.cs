using System.Net;
using System.Text;
using Gateway.Control.Auth;
using Gateway.Control.Rules;

namespace Gateway.Control.Api.Tests;

/// <summary>The wire format: signatures, envelopes, and what happens to requests that are not right.</summary>
public sealed class ApiEnvelopeTests : IClassFixture<ApiFixture>
{
    private readonly ApiFixture _f;

    public ApiEnvelopeTests(ApiFixture fixture) => _f = fixture;

    private async Task<string?> ErrorCodeOf(ApiFixture.Raw raw)
    {
        var (response, envelope) = await _f.SendAsync(raw);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(string.IsNullOrEmpty(envelope.GetProperty("RequestId").GetString()));
        if (envelope.TryGetProperty("Error", out var error))
        {
            Assert.False(string.IsNullOrEmpty(error.GetProperty("Message").GetString()));
            return error.GetProperty("Code").GetString();
        }
        return null;
    }

    [Fact]
    public async Task CorrectlySignedRequest_IsAnswered() =>
        Assert.Null(await ErrorCodeOf(new ApiFixture.Raw()));

    [Fact]
    public async Task HostSignedWithoutThePort_IsAccepted() =>
        Assert.Null(await ErrorCodeOf(new ApiFixture.Raw { SignHostWithPort = false }));

    [Theory]
    [InlineData("cvm")]
    [InlineData("127")]
    [InlineData("anything")]
    public async Task AnyServiceNameInTheScope_IsAccepted(string service) =>
        Assert.Null(await ErrorCodeOf(new ApiFixture.Raw { Service = service }));

    [Fact]
    public async Task WrongSecretKey_IsSignatureFailure() =>
        Assert.Equal(ErrorCodes.SignatureFailure, await ErrorCodeOf(new ApiFixture.Raw { SignWith = ApiFixture.Keys with { SecretKey = "wrong" } }));

    [Fact]
    public async Task UnknownSecretId_IsSecretIdNotFound() =>
        Assert.Equal(ErrorCodes.SecretIdNotFound, await ErrorCodeOf(new ApiFixture.Raw { SignWith = ApiFixture.Keys with { SecretId = "AKIDsomeoneelse" } }));

    [Fact]
    public async Task BodyChangedAfterSigning_IsSignatureFailure() =>
        Assert.Equal(ErrorCodes.SignatureFailure, await ErrorCodeOf(new ApiFixture.Raw { Body = "{\"a\":2}"u8.ToArray(), SignedBody = "{\"a\":1}"u8.ToArray() }));

    [Fact]
    public async Task BodyReformattedAfterSigning_IsSignatureFailure() =>
        Assert.Equal(ErrorCodes.SignatureFailure, await ErrorCodeOf(new ApiFixture.Raw { Body = "{ }"u8.ToArray(), SignedBody = "{}"u8.ToArray() }));

    [Fact]
    public async Task TimestampSixMinutesOld_IsSignatureExpire() =>
        Assert.Equal(ErrorCodes.SignatureExpire, await ErrorCodeOf(new ApiFixture.Raw { Timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 360 }));

    [Fact]
    public async Task TimestampSixMinutesAhead_IsSignatureExpire() =>
        Assert.Equal(ErrorCodes.SignatureExpire, await ErrorCodeOf(new ApiFixture.Raw { Timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 360 }));

    [Fact]
    public async Task TimestampFourMinutesOld_IsAccepted() =>
        Assert.Null(await ErrorCodeOf(new ApiFixture.Raw { Timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 240 }));

    [Fact]
    public async Task MissingAuthorization_IsSignatureFailure() =>
        Assert.Equal(ErrorCodes.SignatureFailure, await ErrorCodeOf(new ApiFixture.Raw { OmitAuthorization = true }));

    [Theory]
    [InlineData("Bearer abc")]
    [InlineData("TC3-HMAC-SHA256 Credential=AKID, SignedHeaders=content-type;host, Signature=00")]
    [InlineData("TC3-HMAC-SHA256 garbage")]
    public async Task MalformedAuthorization_IsInvalidAuthorization(string authorization) =>
        Assert.Equal(ErrorCodes.InvalidAuthorization, await ErrorCodeOf(new ApiFixture.Raw { Authorization = authorization }));

    [Fact]
    public async Task CredentialDateNotMatchingTheTimestamp_IsSignatureFailure()
    {
        long ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string good = Tc3Signature.Authorization(ApiFixture.Keys, "vpc", ts, "application/json", $"127.0.0.1:{_f.Endpoint.Port}", "{}"u8);
        string wrongDate = good.Replace(Tc3Signature.DateOf(ts), "2001-01-01", StringComparison.Ordinal);

        Assert.Equal(ErrorCodes.SignatureFailure, await ErrorCodeOf(new ApiFixture.Raw { Timestamp = ts, Authorization = wrongDate }));
    }

    [Fact]
    public async Task UnknownAction_IsInvalidAction() =>
        Assert.Equal(ErrorCodes.InvalidAction, await ErrorCodeOf(new ApiFixture.Raw { Action = "CreateVpc" }));

    [Fact]
    public async Task MalformedJson_IsInvalidParameter() =>
        Assert.Equal(ErrorCodes.InvalidParameter, await ErrorCodeOf(new ApiFixture.Raw { Action = "DescribeAddresses", Body = "{\"Limit\": "u8.ToArray() }));

    [Fact]
    public async Task JsonThatIsNotAnObject_IsInvalidParameter() =>
        Assert.Equal(ErrorCodes.InvalidParameter, await ErrorCodeOf(new ApiFixture.Raw { Action = "DescribeAddresses", Body = "[1,2]"u8.ToArray() }));

    [Fact]
    public async Task ParameterOfTheWrongType_IsInvalidParameter() =>
        Assert.Equal(ErrorCodes.InvalidParameter, await ErrorCodeOf(new ApiFixture.Raw { Action = "DescribeAddresses", Body = "{\"Limit\": \"ten\"}"u8.ToArray() }));

    [Fact]
    public async Task OversizedBody_IsRequestSizeLimitExceeded()
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"AddressName\":\"" + new string('x', (int)_f.MaxBody) + "\"}");

        Assert.Equal(ErrorCodes.RequestSizeLimitExceeded, await ErrorCodeOf(new ApiFixture.Raw { Action = "AllocateAddresses", Body = body }));
        Assert.Empty(await Describe());
    }

    [Fact]
    public async Task MissingAction_IsMissingParameter() =>
        Assert.Equal(ErrorCodes.MissingParameter, await ErrorCodeOf(new ApiFixture.Raw { OmitAction = true }));

    [Fact]
    public async Task MissingVersion_IsMissingParameter() =>
        Assert.Equal(ErrorCodes.MissingParameter, await ErrorCodeOf(new ApiFixture.Raw { Version = null }));

    [Fact]
    public async Task MissingRegion_IsMissingParameter() =>
        Assert.Equal(ErrorCodes.MissingParameter, await ErrorCodeOf(new ApiFixture.Raw { Region = null }));

    [Fact]
    public async Task WrongVersion_IsNoSuchVersion() =>
        Assert.Equal(ErrorCodes.NoSuchVersion, await ErrorCodeOf(new ApiFixture.Raw { Version = "2020-01-01" }));

    [Fact]
    public async Task Get_IsAnEnvelopeNotAPage() =>
        Assert.Equal(ErrorCodes.UnsupportedProtocol, await ErrorCodeOf(new ApiFixture.Raw { Method = "GET" }));

    [Fact]
    public async Task FormEncodedBody_IsInvalidParameter() =>
        Assert.Equal(ErrorCodes.InvalidParameter, await ErrorCodeOf(new ApiFixture.Raw { ContentType = "application/x-www-form-urlencoded", Body = "Limit=1"u8.ToArray() }));

    private async Task<System.Text.Json.JsonElement.ArrayEnumerator> Describe()
    {
        var response = await _f.Client.CallAsync("vpc", "DescribeAddresses");
        return response.GetProperty("AddressSet").EnumerateArray();
    }
}
