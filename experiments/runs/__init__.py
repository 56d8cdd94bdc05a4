"""What a run is and where it lives: its settings (``run``), its command-line options
(``options``) and how they become a run (``command_line``), the run folder with its
run.json and units (``run_folder``) and the one-writer lock (``run_lock``). Used by every
script and by the execution layer."""
