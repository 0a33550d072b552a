"""Author records: people, built from authorships by disambiguation."""
