package auth

import (
	"path/filepath"
	"testing"
)

func TestFileKeyStoreSyncsDirectoryOfNewJournal(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "keys.jsonl")
	var synced []string
	record := func(d string) error {
		synced = append(synced, d)
		return syncDir(d)
	}
	s, err := openFileKeyStore(path, record)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("creating the journal synced %q, want [%q]", synced, dir)
	}
	synced = nil
	s, err = openFileKeyStore(path, record)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 0 {
		t.Fatalf("reopening an existing journal synced %q", synced)
	}
}
