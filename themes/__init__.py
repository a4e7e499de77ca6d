"""Console themes as data files (TOML), loaded into Textual's theme system."""
