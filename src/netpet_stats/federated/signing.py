"""Signed answers: each site signs what it sends; the coordinator checks before it reads.

A site holds an Ed25519 private key (made by ``netpet-stats keys``); the
coordinator's configuration lists every site's public key. A site's answer carries
a ``signature`` field: the Ed25519 signature (RFC 8032) of the answer's canonical
JSON without that field (keys sorted, no spaces, as :func:`protocol.digest`),
prefixed with the context ``netpet-stats federation answer``. The canonical form
is what is signed, so the signature covers exactly the values the coordinator
reads, whatever the file's line endings or indentation.

The coordinator verifies each answer with the public key it holds for the site
the file is filed under, before the answer's content is used. A changed value, an
answer signed with another key, or (once keys are configured) an unsigned answer
is refused, naming the site and the round. What a signature does not do (a site
lying about its own patients, a coordinator reading what it is sent) is set out in
``docs/federation.md``, "Who can do what".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from pathlib import Path

import pandas as pd

from .errors import ProtocolError

ALGORITHM = "Ed25519"
#: Prefix of every signed message (a signature made for anything else never verifies).
CONTEXT = b"netpet-stats federation answer\n"
#: Rule of the signature's entries in the site's release ledger.
RULE_SIGNATURE = "signature of the answer with this site's key (no patient data)"


def _ed25519():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


# ----------------------------------------------------------------------------- keys


def new_key_pair() -> tuple[bytes, str]:
    """A new Ed25519 key pair: the private key (PKCS#8 PEM) and the public key (base64).

    Examples
    --------
    >>> from netpet_stats.federated.signing import new_key_pair
    >>> private, public = new_key_pair()
    >>> private.startswith(b"-----BEGIN PRIVATE KEY-----"), len(public)
    (True, 44)
    """
    from cryptography.hazmat.primitives import serialization

    key = _ed25519().Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())
    return pem, public_text(key)


def public_text(private_key) -> str:
    """The public half of ``private_key`` as the coordinator's configuration lists it."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(public: str) -> str:
    """A short name of a public key: the first 16 hex digits of SHA-256 of its 32 bytes."""
    return hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]


def write_key_pair(site: str, folder: str | Path) -> tuple[Path, Path, str]:
    """Write ``<site>.key`` (readable by its owner only) and ``<site>.pub`` in ``folder``.

    Refuses a folder inside a ``results`` folder (results are shared and published)
    and an existing key (a new key would make every answer signed with it refused
    until the coordinator's configuration is updated).

    Returns
    -------
    private path, public path, public key (base64)
    """
    folder = Path(folder).expanduser()
    inside_results = (os.path.abspath(folder) + os.sep).startswith(os.path.abspath("results")
                                                                    + os.sep)
    if inside_results or "results" in folder.parts:
        raise ProtocolError(f"{folder}: a private key is never kept under a results/ folder "
                            "(results are shared); choose a folder of your own, outside the "
                            "analysis and the exchange folder")
    private_path, public_path = folder / f"{site}.key", folder / f"{site}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise ProtocolError(f"{path} exists already: a new key would make the coordinator "
                                "refuse this site's answers until its configuration lists the "
                                "new public key. Move the old files away first if you mean it")
    folder.mkdir(parents=True, exist_ok=True)
    pem, public = new_key_pair()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_text(public + "\n", encoding="ascii")
    return private_path, public_path, public


def load_private_key(path: str | Path):
    """The site's private key from ``path`` (PEM), refused if others may read the file."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise ProtocolError(f"federation.signing_key: {path} cannot be read "
                            f"({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ProtocolError(f"federation.signing_key: {path} may be read by other users "
                            f"(mode {stat.S_IMODE(mode):o}); make it readable by you alone "
                            f"(chmod 600 {path})")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, _ed25519().Ed25519PrivateKey):
        raise ProtocolError(f"federation.signing_key: {path} is not an unencrypted Ed25519 "
                            "private key in PEM (make one with netpet-stats keys)")
    return key


def _public_key(text: str):
    try:
        raw = base64.b64decode(text, validate=True)
        return _ed25519().Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return None


# ----------------------------------------------------------------------------- answers


def signed_message(bundle: dict) -> bytes:
    """The bytes signed for ``bundle``: the context, then its canonical JSON without
    the signature (sorted keys, no spaces, as :func:`protocol.digest`)."""
    body = {k: v for k, v in bundle.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, allow_nan=False, separators=(",", ":"))
    return CONTEXT + text.encode("utf-8")


def sign(bundle: dict, private_key) -> dict:
    """``bundle`` with its ``signature`` field (Ed25519, RFC 8032), made with the site's key.

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> from netpet_stats.federated.signing import sign, public_text, verify
    >>> key = Ed25519PrivateKey.generate()
    >>> answer = sign({"round": 1, "site": "A", "n": 12}, key)
    >>> verify(answer, "A", 1, {"A": public_text(key)}, required=True) is None
    True
    >>> verify({**answer, "n": 13}, "A", 1, {"A": public_text(key)}, required=True)[:40]
    "round 1, site 'A': the answer was change"
    """
    signature = private_key.sign(signed_message(bundle))
    return {**{k: v for k, v in bundle.items() if k != "signature"},
            "signature": {"algorithm": ALGORITHM, "key_id": key_id(public_text(private_key)),
                          "value": base64.b64encode(signature).decode("ascii")}}


def sign_release(bundle: dict, ledger: pd.DataFrame, private_key) -> tuple[dict, pd.DataFrame]:
    """The signed answer, and its ledger with the signature's three fields added."""
    signed = sign(bundle, private_key)
    rows = pd.DataFrame([{"round": bundle.get("round"), "path": f"signature/{k}", "value": v,
                          "smallest_count": None, "rule": RULE_SIGNATURE}
                         for k, v in signed["signature"].items()])
    return signed, pd.concat([ledger, rows], ignore_index=True)


def verify(bundle: dict, site: str, round_: int, keys: dict[str, str],
           required: bool) -> str | None:
    """Check the signature of the answer filed as ``site``'s answer to round ``round_``.

    Parameters
    ----------
    bundle
        The answer as read from its file (JSON), signature included.
    site, round_
        Where the answer was found (its file name and round folder).
    keys
        The coordinator's public keys by site (``federation.public_keys``).
    required
        Refuse an unsigned answer (:func:`signatures_required`).

    Returns
    -------
    str or None
        What is wrong, naming the round and the site; ``None`` if the answer is
        signed with the site's key and unchanged since (or unsigned where that is
        allowed).
    """
    where = f"round {round_}, site {site!r}"
    sig = bundle.get("signature")
    if sig is None:
        if required or site in keys:
            return (f"{where}: the answer is not signed, and the coordinator's configuration "
                    + (f"lists a public key for {site!r}" if site in keys
                       else "requires signed answers (federation.require_signatures)")
                    + "; the site must answer again with federation.signing_key set")
        return None
    if site not in keys:
        if required:
            return (f"{where}: the answer is signed, but federation.public_keys has no key for "
                    f"{site!r}; add the site's public key (its <site>.pub file)")
        return None
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM:
        return f"{where}: the answer's signature is not an {ALGORITHM} signature"
    try:
        value = base64.b64decode(str(sig.get("value")), validate=True)
    except (binascii.Error, ValueError):
        value = b""
    message = signed_message(bundle)
    if _verifies(keys[site], value, message):
        return None
    others = sorted(s for s, k in keys.items() if s != site and _verifies(k, value, message))
    if others:
        return (f"{where}: the answer is signed with the key of site {others[0]!r}, not "
                f"{site!r}'s; it is refused")
    if sig.get("key_id") != key_id(keys[site]):
        return (f"{where}: the answer is signed with another key than {site!r}'s public key in "
                "federation.public_keys (key id "
                f"{str(sig.get('key_id'))[:16]!r}, expected {key_id(keys[site])!r}); it is "
                "refused. If the site made a new key, put its new public key in the "
                "configuration and ask it to answer again")
    return (f"{where}: the answer was changed after the site signed it (its signature does "
            f"not match its content); it is refused. Ask site {site!r} to answer round "
            f"{round_} again")


def _verifies(public: str, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = _public_key(public)
    if key is None or len(signature) != 64:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def signatures_required(federation: dict) -> bool:
    """Whether an unsigned answer is refused: ``require_signatures`` if set, else as soon
    as ``public_keys`` lists any key."""
    required = federation.get("require_signatures")
    return bool(federation.get("public_keys")) if required is None else bool(required)
