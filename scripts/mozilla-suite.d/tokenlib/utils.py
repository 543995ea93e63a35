"""tokenlib.utils.decode_token_bytes: a token's bytes from its text.

A tokenlib token is urlsafe base64 of (payload JSON || 32-byte HMAC), with
the '=' padding left off (docs/tokens.md).  Like tokenlib's own function,
this refuses what is not such text with ValueError.
"""

import base64
import binascii


def decode_token_bytes(value):
    """The raw bytes (payload and signature) of the token text value."""
    if isinstance(value, bytes):
        value = value.decode("ascii")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("token is not ASCII") from None
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"token is not urlsafe base64: {e}") from None


def encode_token_bytes(value):
    """The token text of raw bytes: the inverse of decode_token_bytes."""
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
