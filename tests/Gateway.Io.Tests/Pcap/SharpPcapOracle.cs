using SharpPcap;
using SharpPcap.LibPcap;

namespace Gateway.Io.Pcap.Tests;

/// <summary>libpcap (through SharpPcap's capture-file reader) as the independent reader of capture files.</summary>
internal static class SharpPcapOracle
{
    /// <summary>Frames as libpcap returns them: bytes, original length, time in µs (libpcap's default precision).</summary>
    public static List<(byte[] Data, int OriginalLength, long TimeUs)> Read(string path)
    {
        var frames = new List<(byte[], int, long)>();
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        GetPacketStatus status;
        while ((status = device.GetNextPacket(out PacketCapture capture)) == GetPacketStatus.PacketRead)
        {
            RawCapture raw = capture.GetPacket();
            long us = ((long)raw.Timeval.Seconds * 1_000_000) + (long)raw.Timeval.MicroSeconds;
            // RawCapture.PacketLength is the captured length; the header has the original one.
            frames.Add((raw.Data, (int)((PcapHeader)capture.Header).PacketLength, us));
        }
        if (status != GetPacketStatus.NoRemainingPackets)
        {
            throw new InvalidOperationException($"libpcap stopped reading {path} with {status}: {device.LastError}");
        }
        return frames;
    }
}
