"""The main window's controllers: each owns one concern, its widgets and its state.

    sources.py    SourcesController   the source picker, opening files and cameras,
                                      playback (play/pause, seek, loop), camera lost/back
    engines.py    EnginesController   the backend picker, loading and falling back, opening
                                      a model file, the compare view's engine
    display.py    DisplayController   what the views show: overlay options, whom the
                                      dashboard follows, results to the views, the dashboard
    recording.py  RecordingController recording (subscribed to the engine's results),
                                      snapshots, the recording folder

The window (app/window.py) builds the shared pieces (views, engine bridges, recorder,
dashboard), the controllers and the actions (app/actions.py), and wires the controllers'
signals to each other in one place. A controller reaches the shared pieces through the
window it is given.
"""
