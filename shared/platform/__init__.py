"""What every feature stands on: settings, the clock, identity, Table storage and its keys, the due
index, the Graph gateway and the tenant's Graph budget, errors and metrics. Imports no feature."""
