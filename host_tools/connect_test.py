"""Check a board over its serial REPL: ``python -m host_tools connect-test``.

    python -m host_tools connect-test --port /dev/ttyACM0 [--dhcp | --static IP/PREFIX[,GW[,DNS]]]
        [--gateway IP] [--name NAME] [--echo HOST:PORT] [--bytes N] [--timeout S]

Over pyserial only (host_tools/rawrepl.py), it interrupts the board, enters the raw
REPL and runs the check as steps, one raw-REPL run each (board code:
host_tools/connect_board.py):

  import   import spinet; heap free before/after, and the file it came from (.mpy/.py)
  nic      bring the interface up (board.nic(), or the `nic` boot.py left), DHCP or static
  ping     ping the gateway 3 times
  resolve  resolve --name through the Interface's resolver (a dotted quad is taken as is)
  echo     TCP to the echo server, --bytes of a known pattern there and back, verified
  memory   heap free after, and the difference from after the import

One line per step with PASS/FAIL/SKIP, then a summary. Exit 0 when every step passed,
1 when a step failed or was skipped (a step that outruns --timeout is interrupted with
Ctrl-C and fails), 2 when the board could not be driven (no board, no prompt,
garbage, reset mid-test, no prompt back after an interrupt).
"""

import ipaddress
import os
import re
import sys
import time

from host_tools import rawrepl

HERE = os.path.dirname(os.path.abspath(__file__))
BOARD_CODE = os.path.join(HERE, "connect_board.py")
STEPS = (
    ("import", "import spinet"),
    ("nic", "interface up"),
    ("ping", "ping gateway"),
    ("resolve", "resolve name"),
    ("echo", "TCP echo"),
    ("memory", "memory after"),
)
# What each step needs to have passed before it (a missing one skips it).
NEEDS = {"nic": ("import",), "ping": ("nic",), "resolve": ("nic",), "echo": ("nic",),
         "memory": ("import",)}
STEP_RE = re.compile(r"^@@step (\w+) (ok|fail) ?(.*)$")
VAL_RE = re.compile(r"^@@val (\w+) (.*)$")
EXIT_FAIL = 1
EXIT_NO_BOARD = 2


def board_sections(path=BOARD_CODE):
    """The board code split at its `# @@ NAME` lines: {name: source}."""
    sections = {}
    name = None
    with open(path) as f:
        for line in f:
            m = re.match(r"^# @@ (\w+)\s*$", line)
            if m:
                name = m.group(1)
                sections[name] = []
            elif name:
                sections[name].append(line)
    return {k: "".join(v) for k, v in sections.items()}


def parse_static(text, gateway=None):
    """'IP/PREFIX[,GW[,DNS]]' -> (ip, mask, gw, dns); GW defaults to --gateway, else
    the first address of the subnet; DNS to the gateway."""
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or "/" not in parts[0]:
        raise ValueError("--static wants IP/PREFIX[,GW[,DNS]], got %r" % text)
    iface = ipaddress.IPv4Interface(parts[0])
    gw = parts[1] if len(parts) > 1 and parts[1] else gateway
    if not gw:
        gw = str(iface.network.network_address + 1)
    ipaddress.IPv4Address(gw)
    dns = parts[2] if len(parts) > 2 and parts[2] else gw
    ipaddress.IPv4Address(dns)
    return (str(iface.ip), str(iface.netmask), gw, dns)


def parse_echo(text):
    """'HOST:PORT', 'HOST' (port 7) or ':PORT' (the resolved name) -> (host, port)."""
    if not text:
        return ("", 7)
    host, sep, port = text.rpartition(":")
    if not sep:
        return (text, 7)
    return (host, int(port))


class Result:
    def __init__(self, step, status, text):
        self.step = step
        self.status = status  # PASS, FAIL, SKIP
        self.text = text


def parse_output(step, out, err):
    """A Result from one step's raw-REPL output, and its @@val figures."""
    vals = {}
    res = None
    for line in out.splitlines():
        m = STEP_RE.match(line.strip())
        if m and m.group(1) == step:
            res = Result(step, "PASS" if m.group(2) == "ok" else "FAIL", m.group(3))
            continue
        m = VAL_RE.match(line.strip())
        if m:
            vals[m.group(1)] = m.group(2)
    if err.strip():
        last = [ln for ln in err.strip().splitlines() if ln.strip()][-1].strip()
        text = "raised %s" % last
        if res is not None and res.status == "PASS":
            text = res.text + "; then " + text
        res = Result(step, "FAIL", text)
    if res is None:
        res = Result(step, "FAIL", "no result from the board (output: %r)" % out[-200:])
    return res, vals


def run(args, emit=print):
    """The whole check; returns the exit code. emit prints one report line."""
    try:
        params = board_params(args)
    except ValueError as e:
        emit("connect-test: %s" % e)
        return EXIT_FAIL
    sections = board_sections()
    t_start = time.monotonic()
    emit("connect-test on %s (%s, timeout %.0f s per step)"
         % (args.port, "static %s" % params["static"][0] if params["mode"] == "static"
            else "DHCP", args.timeout))
    try:
        repl = rawrepl.RawRepl(args.port, args.timeout)
    except rawrepl.ReplError as e:
        emit("%-5s %-13s %s" % ("FAIL", "connect", e))
        emit("connect-test: FAILED: no board on %s" % args.port)
        return EXIT_NO_BOARD
    try:
        return _run_steps(repl, args, params, sections, emit, t_start)
    finally:
        repl.close()


def board_params(args):
    static = None
    mode = "dhcp"
    if args.static:
        mode = "static"
        static = parse_static(args.static, args.gateway)
    if args.gateway:
        ipaddress.IPv4Address(args.gateway)
    if args.bytes < 1:
        raise ValueError("--bytes must be at least 1")
    # The board gives up on its own a little before the host would, so a failing
    # network step still reports (and names) itself.
    budget = max(int(args.timeout * 1000) - 1500, int(args.timeout * 500))
    return {"mode": mode, "static": static, "gw": args.gateway or "",
            "name": args.name, "echo": parse_echo(args.echo), "bytes": args.bytes,
            "budget_ms": budget}


def _run_steps(repl, args, params, sections, emit, t_start):
    try:
        repl.enter()
    except rawrepl.ReplError as e:
        emit("%-5s %-13s %s" % ("FAIL", "connect", e))
        emit("connect-test: FAILED: cannot get the board's raw REPL on %s" % args.port)
        return EXIT_NO_BOARD
    emit("%-5s %-13s raw REPL on %s" % ("PASS", "connect", args.port))
    results = {}
    vals = {}
    fatal = None
    for step, label in STEPS:
        if fatal:
            res = Result(step, "SKIP", "not run: %s" % fatal)
        elif any(results[n].status != "PASS" for n in NEEDS.get(step, ())):
            need = [n for n in NEEDS[step] if results[n].status != "PASS"]
            res = Result(step, "SKIP", "needs step %s" % ", ".join(need))
        elif step == "echo" and not params["echo"][0] and results["resolve"].status != "PASS":
            res = Result(step, "SKIP", "no echo host: the name did not resolve "
                         "(give --echo HOST:PORT)")
        else:
            code = sections[step]
            if step == "import":
                code = "_ct_p = %r\n%s%s" % (params, sections["prelude"], code)
            try:
                out, err = repl.exec(code, args.timeout)
                res, v = parse_output(step, out, err)
                vals.update(v)
            except rawrepl.BoardReset as e:
                fatal = "board reset during step %s" % step
                res = Result(step, "FAIL", "board reset during step %s: %s" % (step, e))
            except rawrepl.StepTimeout as e:
                if not e.recovered:
                    fatal = "the board stopped answering in step %s" % step
                res = Result(step, "FAIL", "%s" % e)
            except rawrepl.ReplError as e:
                fatal = "the board stopped answering in step %s" % step
                res = Result(step, "FAIL", "%s" % e)
        results[step] = res
        emit("%-5s %-13s %s" % (res.status, step, res.text))
    repl.exit()
    elapsed = time.monotonic() - t_start
    failed = [s for s, _ in STEPS if results[s].status == "FAIL"]
    skipped = [s for s, _ in STEPS if results[s].status == "SKIP"]
    figures = summary_figures(vals)
    if figures:
        emit("figures: " + "; ".join(figures))
    if not failed and not skipped:
        emit("connect-test: PASSED: %d/%d steps in %.1f s" % (len(STEPS), len(STEPS), elapsed))
        return 0
    what = []
    if failed:
        what.append("failed: %s" % ", ".join(failed))
    if skipped:
        what.append("skipped: %s" % ", ".join(skipped))
    emit("connect-test: FAILED: %s (%.1f s)%s" % ("; ".join(what), elapsed,
                                                 "; " + fatal if fatal else ""))
    return EXIT_NO_BOARD if fatal else EXIT_FAIL


def summary_figures(vals):
    out = []
    if "free_after_import" in vals:
        out.append("heap free after importing spinet (%s) %s bytes"
                   % (vals.get("spinet_kind", "?"), vals["free_after_import"]))
    if "up_ms" in vals:
        out.append("interface up in %s ms" % vals["up_ms"])
    if "ping_rtts" in vals:
        out.append("ping %s ms" % vals["ping_rtts"])
    if "echo_bytes_per_s" in vals:
        out.append("echo %.1f KB/s" % (int(vals["echo_bytes_per_s"]) / 1024))
    if "free_delta" in vals:
        out.append("heap free after %s (%s less)" % (vals["free_after"], vals["free_delta"]))
    return out


def add_arguments(p):
    p.add_argument("--port", required=True, help="the board's serial port (/dev/ttyACM0)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dhcp", action="store_true", help="get an address by DHCP (default)")
    g.add_argument("--static", metavar="IP/PREFIX[,GW[,DNS]]",
                   help="static address; GW defaults to --gateway or the subnet's first "
                   "address, DNS to GW")
    p.add_argument("--gateway", metavar="IP", help="the address to ping (default: the "
                   "interface's gateway)")
    p.add_argument("--name", default="echo.vboard.test",
                   help="name to resolve (default echo.vboard.test; a dotted quad is "
                   "taken as is)")
    p.add_argument("--echo", metavar="HOST:PORT",
                   help="TCP echo server (default: the resolved name, port 7)")
    p.add_argument("--bytes", type=int, default=4096, help="bytes to echo (default 4096)")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds for connecting and for each step (default 20)")


def main(args):
    return run(args)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="connect_test")
    add_arguments(ap)
    sys.exit(main(ap.parse_args()))
