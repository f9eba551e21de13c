# main.py — on the board as /main.py; runs after boot.py on a reset into the friendly
# REPL. Starts the app named in /config.json ("app"; e.g. http_server) with the
# Interface boot.py brought up. Ctrl-C stops the app and leaves you at the REPL.
try:
    import netboot
    netboot.run_app()
except KeyboardInterrupt:
    print("main: interrupted")
except Exception as e:
    import sys
    sys.print_exception(e)
