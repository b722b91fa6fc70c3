namespace Gateway.Control.Rules;

/// <summary>
/// A request the control plane refused. It carries the cloud's error code and becomes the API's error envelope;
/// whoever throws it has changed nothing.
/// </summary>
public sealed class ApiException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>The Tencent Cloud error codes this emulator answers with (common codes and the vpc/cvm ones).</summary>
public static class ErrorCodes
{
    // Common (API 3.0).
    public const string SignatureFailure = "AuthFailure.SignatureFailure";
    public const string SignatureExpire = "AuthFailure.SignatureExpire";
    public const string SecretIdNotFound = "AuthFailure.SecretIdNotFound";
    public const string InvalidAuthorization = "AuthFailure.InvalidAuthorization";
    public const string InvalidAction = "InvalidAction";
    public const string NoSuchVersion = "NoSuchVersion";
    public const string MissingParameter = "MissingParameter";
    public const string InvalidParameter = "InvalidParameter";
    public const string InvalidParameterValue = "InvalidParameterValue";
    public const string InvalidParameterValueRange = "InvalidParameterValue.Range";
    /// <summary>More values than a parameter takes (an array of more than 100 ids, more than 10 filters).</summary>
    public const string InvalidParameterValueLimitExceeded = "InvalidParameterValue.LimitExceeded";
    /// <summary>A string longer than the parameter takes (names of more than 128 characters).</summary>
    public const string InvalidParameterValueTooLong = "InvalidParameterValue.TooLong";
    public const string InvalidParameterCombination = "InvalidParameterCombination";
    public const string InvalidParameterConflict = "InvalidParameterConflict";
    public const string RequestSizeLimitExceeded = "RequestSizeLimitExceeded";
    public const string UnsupportedProtocol = "UnsupportedProtocol";
    public const string UnsupportedOperation = "UnsupportedOperation";
    public const string ResourceInsufficient = "ResourceInsufficient";
    public const string ResourceNotFound = "ResourceNotFound";
    public const string InternalError = "InternalError";
    /// <summary>The service cannot take the request now (a cluster's store has no quorum or cannot be reached); retry later.</summary>
    public const string ServiceUnavailable = "ServiceUnavailable";

    // vpc.
    public const string AddressQuotaLimitExceeded = "AddressQuotaLimitExceeded";
    public const string AddressIdNotFound = "InvalidAddressId.NotFound";
    public const string AddressIdMalformed = "InvalidParameterValue.AddressIdMalformed";
    public const string AddressIdStatusNotPermit = "InvalidAddressIdStatus.NotPermit";
    public const string InvalidAddressState = "InvalidAddressState";
    public const string InstanceAlreadyBindEip = "InvalidInstanceId.AlreadyBindEip";
    public const string InstanceIdMalformedVpc = "InvalidParameterValue.InstanceIdMalformed";
    public const string FilterInvalidKey = "InvalidParameter.FilterInvalidKey";
    public const string BandwidthOutOfRange = "InvalidParameterValue.BandwidthOutOfRange";

    // cvm.
    public const string InstanceIdNotFound = "InvalidInstanceId.NotFound";
    public const string InstanceIdMalformed = "InvalidInstanceId.Malformed";
    public const string InvalidFilter = "InvalidFilter";
    public const string InvalidIpFormat = "InvalidParameter.InvalidIpFormat";
    public const string VpcAddrNotInSubNet = "VpcAddrNotInSubNet";
    public const string VpcIpIsUsed = "VpcIpIsUsed";
    public const string AmountNotEqual = "InvalidParameterValue.AmountNotEqual";
    public const string NoAvailableIpInSubnet = "FailedOperation.NoAvailableIpAddressCountInSubnet";
    public const string SubnetNotExist = "InvalidParameterValue.SubnetNotExist";
    public const string InstanceNameTooLong = "InvalidInstanceName.TooLong";
    /// <summary>No public IP left for an instance that needs one (StartInstances after a STOP_CHARGING stop).</summary>
    public const string EipInsufficient = "ResourcesSoldOut.EipInsufficient";
    public const string MissingParameterAtLeastOne = "MissingParameter.AtLeastOne";

    // vpc Describe* calls.
    /// <summary>Ids and Filters together (DescribeVpcs, DescribeSubnets).</summary>
    public const string ParameterCoexist = "InvalidParameter.Coexist";
    /// <summary>An id of the wrong shape (vpc-xxxxxxxx, subnet-xxxxxxxx).</summary>
    public const string ValueMalformed = "InvalidParameterValue.Malformed";
}
