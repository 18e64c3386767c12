package metering

import "context"

// RecordDeclared is Record as the middleware calls it: with meter names already checked
// where they were declared.
func RecordDeclared(m *Meter, ctx context.Context, ev Event) error { return m.record(ctx, &ev, false) }
