"""tokenlib, the little of it Mozilla's tokenserver integration tests use.

Mozilla's tests (syncstorage-rs tools/integration_tests/tokenserver)
import tokenlib.utils.decode_token_bytes to read a token's payload without
checking it.  Debian has no tokenlib package, so scripts/mozilla-suite puts
this directory on PYTHONPATH for the suite's run only.  Written for tokend
from the token format in docs/tokens.md; nothing else of tokenlib is here.
"""
