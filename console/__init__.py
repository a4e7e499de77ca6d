"""routeconsole's command line and Textual console: a client of the `engine` package."""
