"""The application: turns a recipe into ready parts (`build`), runs them (`commands`), and speaks
in command-line terms (`cli`, `errors`, `runtime`)."""
