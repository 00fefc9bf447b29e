"""The command line: typer commands that call the engine and render its reports."""
