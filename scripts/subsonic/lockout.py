"""songrec serve's sign-in lockout driven by two real client libraries from PyPI: a
misconfigured player (py-sonic with a wrong password, or guessing user names) at one address
slows down only its own claim, never the right user's player or the API key (py-opensonic),
until the address's ceiling.

Run by crates/cli/tests/cli/serve.rs against a real `songrec serve` started with
`SUBSONIC_PER_USER` failures per user and address and `SUBSONIC_PER_ADDRESS` per address (the
defaults, 10 and 50); configured by the environment:
  SUBSONIC_BASE, SUBSONIC_PORT, SUBSONIC_USER, SUBSONIC_PASSWORD, SUBSONIC_API_KEY
Prints one line per check; exits non-zero on the first failure.
"""

import os
import sys

import libopensonic
import libsonic
from libopensonic import errors as open_errors
from libsonic import errors as sonic_errors


def check(ok, what):
    if not ok:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def refused(conn, what):
    """ping must fail with a wrong-credentials error (40/44); returns its message."""
    try:
        conn.ping()
    except (sonic_errors.CredentialError, open_errors.CredentialError,
            open_errors.AuthError, sonic_errors.AuthError) as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - any other error is a failure of the check
        check(False, f"{what}: refused as wrong credentials, not {type(e).__name__}: {e}")
    check(False, f"{what}: refused")
    return ""


def main():
    env = os.environ
    base, port = env["SUBSONIC_BASE"], int(env["SUBSONIC_PORT"])
    user, password, key = env["SUBSONIC_USER"], env["SUBSONIC_PASSWORD"], env["SUBSONIC_API_KEY"]
    per_user, per_address = int(env["SUBSONIC_PER_USER"]), int(env["SUBSONIC_PER_ADDRESS"])

    player = libsonic.Connection(base, user, password, port=port, appName="mopidy-like")
    keyed = libopensonic.Connection(base, port=port, api_key=key, app_name="keyed-player")
    failures = 0

    # Someone guessing user names: fewer than per_user tries for each name, many names, below
    # the address's ceiling. The right user and the API key still sign in.
    names = 0
    while failures + (per_user - 1) < per_address - per_user - 1:
        guesser = libsonic.Connection(base, f"guess{names}", "nope", port=port, appName="guesser")
        for _ in range(per_user - 1):
            refused(guesser, f"the guessed name guess{names}")
            failures += 1
        names += 1
    check(player.ping() is True, f"py-sonic: the right user signs in after {failures} failures of {names} other names")
    check(keyed.ping() is True, "py-opensonic: the API key signs in too")

    # A misconfigured player of the same user: its user is locked out at this address after
    # per_user failures (even with the right password), the API key is not.
    wrong = libsonic.Connection(base, user, password + "-old", port=port, appName="stale-phone")
    for _ in range(per_user):
        refused(wrong, "a wrong password")
        failures += 1
    message = refused(player, "the right password while its user is locked out")
    check("too many failed sign-ins" in message, f"py-sonic: told why ({message})")
    check(keyed.ping() is True, f"py-opensonic: the API key still signs in after {per_user} wrong passwords of {user}")

    # The address's ceiling: every claim from it waits, the API key too.
    n = 0
    while failures < per_address:
        guesser = libsonic.Connection(base, f"more{n}", "nope", port=port, appName="guesser")
        refused(guesser, f"the guessed name more{n}")
        failures += 1
        n += 1
    message = refused(keyed, "the API key once the address failed too often")
    check("too many failed sign-ins from this address" in message,
          f"py-opensonic: the API key waits at the address's ceiling of {per_address} ({message})")
    keyed.cleanup()
    print("all lockout checks passed", flush=True)


if __name__ == "__main__":
    main()
