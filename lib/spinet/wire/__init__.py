# spinet.wire — stateless parse/build helpers over (buf, offset), one module per format.
# Nothing here keeps state, knows a state machine or touches hardware.
