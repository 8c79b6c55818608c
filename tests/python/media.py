"""Hostile media made byte by byte, shared by the hostile-client suite and the fuzz corpora."""
import struct


def with_ogg_checksum(page: bytes) -> bytes:
    """An Ogg page with its CRC-32 field set (polynomial 0x04C11DB7, MSB first, computed over the
    page with that field zero)."""
    page = page[:22] + bytes(4) + page[26:]
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_page(packet: bytes, first: bool, sequence: int) -> bytes:
    """One Ogg page of stream 1 holding `packet`, with a valid checksum."""
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    return with_ogg_checksum(b"OggS\x00" + bytes([2 if first else 0]) + bytes(8) + struct.pack("<II", 1, sequence) + bytes(4) +
                             bytes([len(lacing)]) + lacing + packet)


def vorbis_id_header(version: int = 0) -> bytes:
    """A Vorbis identification header: mono, 44.1 kHz, block sizes 256 and 2048."""
    return b"\x01vorbis" + struct.pack("<IBIiiiBB", version, 1, 44100, 0, 0, 0, 0xB8, 1)


def float_wav(samples, rate: int) -> bytes:
    """An IEEE-float mono WAV by hand, float32 or float64 as the numpy array is (libsndfile's
    own carries a PEAK chunk with the time it was written, so it would not be repeatable)."""
    x = samples.astype(samples.dtype.newbyteorder("<"))
    return (b"RIFF" + struct.pack("<I", 36 + x.nbytes) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * x.itemsize, x.itemsize, x.itemsize * 8) + b"data" +
            struct.pack("<I", x.nbytes) + x.tobytes())


# Fuzz findings of issue 14, kept as inputs: a GIF that ends right after its image descriptor
# (giflib left no error message, and building one from NULL crashed).
GIF_ENDS_AFTER_DESCRIPTOR = bytes([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0])
