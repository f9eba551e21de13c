# boot.py — on the board as /boot.py; runs at every reset (also before the raw REPL).
# Brings the network up from /config.json (see /lib/netboot.py): board.nic(), DHCP
# within dhcp_timeout_s, else the static addresses, and prints one "net: ..." line.
# `nic` stays in the REPL's globals (also as netboot.nic). Nothing here may keep
# the REPL from coming up: every error is printed and boot goes on.
nic = None
try:
    import netboot
    nic = netboot.up()
except KeyboardInterrupt:
    print("boot: interrupted")
except Exception as e:
    import sys
    sys.print_exception(e)
