"""TCP time-sequence graph of one flow in a capture (CPython, matplotlib Agg).

    python -m host_tools plot-tcp FILE.pcap -o seq.png [--flow IP:PORT-IP:PORT]

The flow is one direction of a connection, sender-receiver; by default the one that
carries most payload. Drawn against seconds since the connection's first segment,
in bytes relative to the sender's initial sequence number:
  - each data segment as a vertical bar from seq to seq+len (blue), a retransmission
    (its range starts below the highest sequence number already sent) in red;
  - the receiver's cumulative ACK (green step line) and ACK + window, the right
    edge the receiver allows (orange; scaled when both SYNs negotiated a window
    scale, RFC 7323 2.3);
  - SYN and FIN as markers.
Prints one summary line: segments, bytes, retransmissions, duration.
"""

import sys

from host_tools import pcapread

M32 = 0xFFFFFFFF


class Unwrap:
    """32-bit sequence numbers -> offsets from `base` that keep growing past 2**32."""

    def __init__(self, base):
        self.base = base
        self.last = 0

    def __call__(self, seq):
        d = ((seq - self.base) - self.last) & M32
        if d >= 0x80000000:
            d -= 0x100000000
        self.last += d
        return self.last


class Flow:
    """What the graph and the summary need from one direction of a connection."""

    def __init__(self, sender, receiver):
        self.sender = sender
        self.receiver = receiver
        self.t0 = 0.0
        self.duration = 0.0
        self.segments = 0  # sent by the sender
        self.data_segments = 0
        self.sent_bytes = 0  # payload, retransmissions included
        self.new_bytes = 0  # payload sent for the first time
        self.retransmissions = 0
        self.data = []  # (t, start, end, retransmitted)
        self.acks = []  # (t, ack) from the receiver
        self.windows = []  # (t, ack + window)
        self.syns = []  # (t, seq)
        self.fins = []
        self.wscale = None  # shift applied to the receiver's windows, None: unknown

    def summary(self):
        ws = ("window scale %d" % self.wscale if self.wscale is not None
              else "window scale unknown (no SYN pair)")
        return ("%s -> %s: %d segments (%d with data), %d bytes (%d sent), "
                "%d retransmissions, %.3f s, %s"
                % (self.sender, self.receiver, self.segments, self.data_segments,
                   self.new_bytes, self.sent_bytes, self.retransmissions, self.duration, ws))


def parse_flow(text):
    """'IP:PORT-IP:PORT' -> (sender, receiver) as 'ip:port' strings."""
    a, sep, b = text.partition("-")
    for side in (a, b):
        host, colon, port = side.rpartition(":")
        if not sep or not colon or not host or not port.isdigit():
            raise ValueError("flow %r: want IP:PORT-IP:PORT" % text)
    return a, b


def flows(segs):
    """{(sender, receiver): payload bytes} over every direction in the capture."""
    out = {}
    for s in segs:
        k = (s.sender(), s.receiver())
        out[k] = out.get(k, 0) + s.length
    return out


def choose(segs, flow=None):
    if not segs:
        raise ValueError("no TCP segments in the capture")
    have = flows(segs)
    if flow is not None:
        if flow not in have:
            raise ValueError("no flow %s-%s in the capture (have: %s)" % (
                flow[0], flow[1], ", ".join("%s-%s" % k for k in sorted(have))))
        return flow
    return max(sorted(have), key=lambda k: have[k])


def analyse(segs, flow=None):
    sender, receiver = choose(segs, flow)
    mine = [s for s in segs if (s.sender(), s.receiver()) in ((sender, receiver),
                                                              (receiver, sender))]
    f = Flow(sender, receiver)
    f.t0 = mine[0].t
    f.duration = mine[-1].t - mine[0].t
    fwd = [s for s in mine if s.sender() == sender]
    rev = [s for s in mine if s.sender() == receiver]
    syn_fwd = next((s for s in fwd if s.flags & pcapread.SYN), None)
    syn_rev = next((s for s in rev if s.flags & pcapread.SYN), None)
    if syn_fwd is not None and syn_rev is not None:
        # RFC 7323 2.2: scaling is on only when both SYNs carry the option
        if syn_fwd.wscale is not None and syn_rev.wscale is not None:
            f.wscale = min(syn_rev.wscale, 14)
        else:
            f.wscale = 0
    if syn_fwd is not None:
        base = syn_fwd.seq
    elif fwd:
        base = fwd[0].seq
    else:
        base = rev[0].ack
    seq = Unwrap(base)
    ack = Unwrap(base)
    high = None  # highest sequence number sent so far (end of the furthest segment)
    for s in mine:
        t = s.t - f.t0
        if s.sender() == sender:
            f.segments += 1
            start = seq(s.seq)
            n = s.length + (1 if s.flags & pcapread.SYN else 0) + (1 if s.flags & pcapread.FIN else 0)
            if s.flags & pcapread.SYN:
                f.syns.append((t, start))
            if s.flags & pcapread.FIN:
                f.fins.append((t, start + s.length))
            if n == 0:
                continue
            again = high is not None and start < high
            if again:
                f.retransmissions += 1
            if s.length:
                f.data_segments += 1
                f.sent_bytes += s.length
                first = start + (1 if s.flags & pcapread.SYN else 0)
                end = first + s.length
                if not again:
                    f.new_bytes += s.length
                elif end > high:
                    f.new_bytes += end - high  # partly new
                f.data.append((t, first, end, again))
            if high is None or start + n > high:
                high = start + n
        elif s.flags & pcapread.ACK:
            a = ack(s.ack)
            f.acks.append((t, a))
            shift = 0 if (s.flags & pcapread.SYN) or f.wscale is None else f.wscale
            f.windows.append((t, a + (s.window << shift)))
    return f


def plot(f, out_png, title_extra=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=100)
    new = [d for d in f.data if not d[3]]
    again = [d for d in f.data if d[3]]
    if new:
        ax.vlines([d[0] for d in new], [d[1] for d in new], [d[2] for d in new],
                  colors="tab:blue", linewidth=1.2, label="data (seq..seq+len)")
    if again:
        ax.vlines([d[0] for d in again], [d[1] for d in again], [d[2] for d in again],
                  colors="tab:red", linewidth=2.0,
                  label="retransmission (%d)" % f.retransmissions)
        ax.plot([d[0] for d in again], [d[2] for d in again], "v", color="tab:red",
                markersize=3, linestyle="none")
    if f.acks:
        ax.step([a[0] for a in f.acks], [a[1] for a in f.acks], where="post",
                color="tab:green", linewidth=1.0, label="ACK")
    if f.windows:
        ax.step([w[0] for w in f.windows], [w[1] for w in f.windows], where="post",
                color="tab:orange", linewidth=1.0, label="ACK + receive window")
    if f.syns:
        ax.plot([s[0] for s in f.syns], [s[1] for s in f.syns], "o", color="black",
                markersize=5, linestyle="none", label="SYN")
    if f.fins:
        ax.plot([s[0] for s in f.fins], [s[1] for s in f.fins], "s", color="purple",
                markersize=5, linestyle="none", label="FIN")
    ax.set_title("TCP time-sequence %s -> %s%s" % (f.sender, f.receiver, title_extra))
    ax.set_xlabel("time since the first segment (s)")
    ax.set_ylabel("sequence number relative to the ISN (bytes)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    ax.text(0.99, 0.01, f.summary().split(": ", 1)[1], transform=ax.transAxes,
            ha="right", va="bottom", fontsize="x-small", color="dimgray")
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def main(args):
    try:
        flow = parse_flow(args.flow) if args.flow else None
        segs = pcapread.tcp_segments(args.pcap)
        f = analyse(segs, flow)
    except (ValueError, OSError, pcapread.PcapError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    plot(f, args.output)
    print(f.summary())
    print("plot-tcp: wrote %s" % args.output)
    return 0
