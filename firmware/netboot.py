# netboot — bring a board's network up at boot from /config.json, and start the app.
# On the board as /lib/netboot.py; firmware/boot.py and firmware/main.py call it.
#
#   import netboot
#   netboot.up()        # boot.py: board.nic() + DHCP (bounded) or static; never raises
#   netboot.nic         # the Interface (None when the network could not come up)
#   netboot.cfg         # the config in use (defaults filled in)
#   netboot.run_app()   # main.py: import cfg["app"], call its main(nic, **app_args)
#
# /config.json keys (all optional; DEFAULTS below):
#   hostname        DHCP option 12 and nic.hostname
#   dhcp            true: try DHCP first; false: static only
#   dhcp_timeout_s  how long boot waits for a lease before falling back to static
#   static          [ip, mask, gateway, dns] used without DHCP or when it times out
#   app             module to start from main.py ("" or null: none), e.g. "http_server"
#   app_args        keyword arguments for the app's main(nic, **app_args)
#
# Rule: nothing here may leave the board without a REPL. Every failure (no board.py,
# chip not answering, no link, a bad config, the app crashing) is printed and boot
# goes on. Restricted Python: runs on the board, the unix port and CPython.

import sys

from spinet.compat import ticks_diff, ticks_ms

CONFIG = "/config.json"
DEFAULTS = {"hostname": "spinet", "dhcp": True, "dhcp_timeout_s": 10,
            "static": ["192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"],
            "app": "", "app_args": {}}

nic = None
cfg = None
how = ""  # "dhcp", "static", or "" when the network is down


def _print_exc(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)


def load_config(path=CONFIG, log=print):
    """DEFAULTS overlaid with the JSON object in path (missing file: defaults)."""
    c = dict(DEFAULTS)
    try:
        import json
        with open(path) as f:
            user = json.load(f)
    except OSError:
        return c
    except ValueError as e:
        log("netboot: %s is not valid JSON (%s): using defaults" % (path, e))
        return c
    if not isinstance(user, dict):
        log("netboot: %s is not a JSON object: using defaults" % path)
        return c
    for k in user:
        if k not in DEFAULTS:
            log("netboot: unknown key %r in %s (ignored)" % (k, path))
        else:
            c[k] = user[k]
    return c


def prefix_len(mask):
    n = 0
    for part in mask.split("."):
        b = int(part)
        while b & 0x80:
            n += 1
            b = (b << 1) & 0xFF
    return n


def wait_dhcp(n, timeout_ms, ticks=ticks_ms, step=None):
    """Start DHCP on n and drive it until bound or timeout_ms. True when bound.
    ticks/step: the clock and one step of the world (virtual time in tests)."""
    n.ipconfig(dhcp4=True)
    t0 = ticks()
    while not n.ipconfig("has_dhcp4"):
        if ticks_diff(ticks(), t0) >= timeout_ms:
            return False
        if step is not None:
            step()
        else:
            n.poll()
            n.wait(20)
    return True


def up(config=None, board=None, log=print, ticks=ticks_ms, step=None):
    """Bring the network up; returns the Interface or None. Never raises (a Ctrl-C
    during DHCP falls back to the static addresses)."""
    global nic, cfg, how
    nic = None
    how = ""
    cfg = config if config is not None else load_config(log=log)
    try:
        if board is None:
            import board
    except ImportError as e:
        log("net: down: no board file (%s); deploy with --board NAME" % e)
        return None
    try:
        n = board.nic(hostname=cfg["hostname"])
    except Exception as e:
        _print_exc(e)
        log("net: down: the Ethernet chip did not come up (%s)" % (e,))
        return None
    why = ""
    if cfg["dhcp"]:
        try:
            if wait_dhcp(n, int(cfg["dhcp_timeout_s"] * 1000), ticks, step):
                how = "dhcp"
            else:
                why = " (no DHCP lease in %s s)" % cfg["dhcp_timeout_s"]
        except KeyboardInterrupt:
            why = " (DHCP interrupted)"
        except Exception as e:
            _print_exc(e)
            why = " (DHCP failed: %s)" % (e,)
    if not how:
        try:
            n.ifconfig(tuple(cfg["static"]))
            how = "static"
        except Exception as e:
            _print_exc(e)
            log("net: down: bad static config %r (%s)" % (cfg["static"], e))
            return None
    ip, mask, gw, dns = n.ifconfig()
    link = "" if n.status() else ", link down"
    log("net: %s/%d gw %s dns %s via %s%s%s" % (ip, prefix_len(mask), gw, dns, how, why,
                                               link))
    nic = n
    return n


def run_app(n=None, config=None, log=print):
    """Start config's app: import it, call its main(n, **app_args). Ctrl-C stops it
    (back to the REPL); a crash is printed. Returns what main returned, or None."""
    n = n if n is not None else nic
    c = config if config is not None else (cfg or load_config(log=log))
    name = c.get("app")
    if not name:
        return None
    if n is None:
        log("app: %s not started: no network" % name)
        return None
    try:
        mod = __import__(name)
        log("app: %s (Ctrl-C stops it)" % name)
        return mod.main(n, **(c.get("app_args") or {}))
    except KeyboardInterrupt:
        log("app: %s stopped (Ctrl-C)" % name)
    except Exception as e:
        _print_exc(e)
        log("app: %s failed (%s)" % (name, e))
    return None
