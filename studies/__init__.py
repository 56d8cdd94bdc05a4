"""Studies beyond the paper, one script each (run them as ``python studies/NAME.py``; the
package lets the tests import them)."""
