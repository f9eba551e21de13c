# The script the virtual board's interpreter starts with (micropython -i): set up the
# board (host_tools/vboard_board.py), run boot.py/main.py, then the REPL takes over
# with this module's globals, as a board's REPL has boot.py's and main.py's.
import vboard_board

vboard_board.start(globals())
del vboard_board
