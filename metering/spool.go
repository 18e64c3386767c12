package metering

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The spool is an append-only log of framed records split into segment files:
//
//	<dir>/00000000000000000000.seg   records 0..n-1
//	<dir>/00000000000000000512.seg   records 512.. (the file name is the first record's sequence)
//	<dir>/ack                        sequence of the first record not yet acknowledged
//
// Each record is framed as a 4-byte big-endian length, a 4-byte CRC-32C of the payload and
// the payload (one CloudEvents JSON event). A crash can only tear the last frame of the last
// segment; opening the spool truncates a torn or corrupt tail so appends continue after the
// last whole record. A segment is deleted once every record in it is acknowledged.

// SyncPolicy says when the spool calls fsync.
type SyncPolicy int

const (
	// SyncBatch fsyncs after every batch written to the spool (the default): events survive
	// a machine crash once the flusher has written them.
	SyncBatch SyncPolicy = iota
	// SyncNone leaves flushing to the operating system: events survive a crash of the
	// process (the kernel holds the written pages) but not of the machine.
	SyncNone
)

const (
	frameHeader     = 8
	maxRecordSize   = 1 << 20
	segmentSuffix   = ".seg"
	ackFile         = "ack"
	defaultSegBytes = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	base  uint64 // sequence of the first record
	count uint64 // records in the segment
	size  int64  // bytes of whole records
}

func (s *segment) path(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", s.base, segmentSuffix))
}

// spool is safe for one appender and one reader running concurrently.
type spool struct {
	dir     string
	sync    SyncPolicy
	segSize int64
	// maxBytes bounds the bytes of segments holding unacknowledged records; 0 is no bound.
	maxBytes int64

	mu     sync.Mutex
	segs   []segment // ascending; the last one is open for appends
	active *os.File
	acked  uint64 // first unacknowledged sequence
	next   uint64 // sequence of the next appended record

	// Reader state, used only by the single reader goroutine.
	rseq  uint64
	rbase uint64
	roff  int64
	rfile *os.File

	// corrupt counts records lost to a corrupt (not merely torn) segment at open.
	corrupt int
	// fsync syncs the active segment; tests replace it to simulate a failing disk.
	fsync func(*os.File) error
	// lock holds the directory's lock file open (and so locked) until close.
	lock *os.File
	// ackf is the ack file, opened on the first ack and overwritten in place.
	ackf *os.File
	// wbuf is the appender's frame buffer, reused from one append to the next so that a
	// busy spool does not allocate (and the GC scan) a fresh buffer per batch.
	wbuf []byte
}

// maxKeptWriteBuf bounds the frame buffer an append keeps for the next one; a rare huge
// batch does not pin its buffer for good.
const maxKeptWriteBuf = 4 << 20

func openSpool(dir string, sync SyncPolicy, segSize int64) (*spool, error) {
	if segSize <= 0 {
		segSize = defaultSegBytes
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("metering: spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, sync: sync, segSize: segSize, fsync: (*os.File).Sync, lock: lock}
	ok := false
	defer func() {
		if !ok {
			_ = s.close()
		}
	}()
	if err := s.readAck(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("metering: spool: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok {
			continue
		}
		base, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		s.segs = append(s.segs, segment{base: base})
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmpU64(a.base, b.base) })
	for i := range s.segs {
		if err := s.scan(&s.segs[i]); err != nil {
			return nil, err
		}
		// A gap (a segment cut short by corruption) moves later segments' numbering on;
		// trust the file names, which were assigned when the records were appended.
	}
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		s.next = last.base + last.count
	}
	if s.acked > s.next {
		// The ack file is ahead of the records (segments lost or damaged). Raising next
		// instead would number the records appended to the last segment wrongly, and the
		// reader would never find them; everything in the spool is acknowledged either way.
		s.acked = s.next
		if err := s.writeAck(); err != nil {
			return nil, err
		}
	}
	if s.acked < s.firstSeq() {
		s.acked = s.firstSeq()
	}
	s.rseq = s.acked
	if err := s.openActive(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *spool) firstSeq() uint64 {
	if len(s.segs) == 0 {
		return s.next
	}
	return s.segs[0].base
}

// scan counts the whole records of seg and truncates anything after the last one.
func (s *spool) scan(seg *segment) error {
	f, err := os.OpenFile(seg.path(s.dir), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("metering: spool: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("metering: spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for {
		n, err := skipFrame(r)
		if err != nil {
			break
		}
		off += n
		seg.count++
	}
	seg.size = off
	if off < info.Size() {
		if off+frameHeader < info.Size() {
			s.corrupt++
		}
		if err := f.Truncate(off); err != nil {
			return fmt.Errorf("metering: spool: truncating torn tail: %w", err)
		}
	}
	return nil
}

func skipFrame(r *bufio.Reader) (int64, error) {
	_, n, err := readFrame(r, nil)
	return n, err
}

var errCorrupt = errors.New("metering: spool: corrupt record")

// readFrame reads one frame into buf (reused when large enough).
func readFrame(r io.Reader, buf []byte) ([]byte, int64, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, 0, err
	}
	size := binary.BigEndian.Uint32(h[0:4])
	if size == 0 || size > maxRecordSize {
		return nil, 0, errCorrupt
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, err
	}
	if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(h[4:8]) {
		return nil, 0, errCorrupt
	}
	return buf, int64(frameHeader + size), nil
}

func appendFrame(dst, payload []byte) []byte {
	var h [frameHeader]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli))
	return append(append(dst, h[:]...), payload...)
}

func (s *spool) openActive() error {
	if len(s.segs) == 0 || s.segs[len(s.segs)-1].size >= s.segSize {
		s.segs = append(s.segs, segment{base: s.next})
	}
	seg := &s.segs[len(s.segs)-1]
	f, err := os.OpenFile(seg.path(s.dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("metering: spool: %w", err)
	}
	s.active = f
	return s.syncDir()
}

func (s *spool) syncDir() error {
	if s.sync == SyncNone {
		return nil
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes records as one write and, under SyncBatch, fsyncs before returning.
func (s *spool) append(records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	// Only the single appender touches wbuf, so it is filled before taking the lock that
	// the reader shares.
	buf := s.wbuf[:0]
	for _, r := range records {
		if len(r) > maxRecordSize {
			return fmt.Errorf("metering: event of %d bytes exceeds the %d byte limit", len(r), maxRecordSize)
		}
		buf = appendFrame(buf, r)
	}
	if cap(buf) <= maxKeptWriteBuf {
		s.wbuf = buf
	} else {
		s.wbuf = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		return ErrClosed
	}
	if s.segs[len(s.segs)-1].size >= s.segSize {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if s.maxBytes > 0 && s.unackedBytes()+int64(len(buf)) > s.maxBytes {
		return ErrSpoolFull
	}
	seg := &s.segs[len(s.segs)-1]
	if _, err := s.active.Write(buf); err != nil {
		// A partial write leaves a torn frame; cut it off so the next append starts clean.
		s.discardTail(seg)
		return fmt.Errorf("metering: spool write: %w", err)
	}
	if s.sync == SyncBatch {
		if err := s.fsync(s.active); err != nil {
			// The caller keeps the records and writes them again; left in the segment they
			// would be read (and delivered) under the numbers of the records appended next.
			s.discardTail(seg)
			return fmt.Errorf("metering: spool fsync: %w", err)
		}
	}
	seg.size += int64(len(buf))
	seg.count += uint64(len(records))
	s.next += uint64(len(records))
	return nil
}

// unackedBytes is the size of the segments that hold a record not yet acknowledged. Called
// with mu held.
func (s *spool) unackedBytes() int64 {
	var n int64
	for _, seg := range s.segs {
		if seg.base+seg.count > s.acked {
			n += seg.size
		}
	}
	return n
}

// discardTail cuts the active segment back to its whole, counted records. If the cut
// fails, appends move to a fresh segment so the stray bytes are never numbered; the reader
// stops at seg.size, which ignores them.
func (s *spool) discardTail(seg *segment) {
	if err := s.active.Truncate(seg.size); err == nil {
		return
	}
	if err := s.rotate(); err != nil {
		// No segment to append to: appends fail (and callers keep their records) until
		// the spool is reopened, rather than writing after stray bytes.
		s.active = nil
	}
}

func (s *spool) rotate() error {
	if err := s.active.Close(); err != nil {
		return fmt.Errorf("metering: spool: %w", err)
	}
	s.segs = append(s.segs, segment{base: s.next})
	return s.openActive()
}

// read returns up to max records after the reader's position, without advancing past
// what has been appended. The records are copies the caller may keep.
func (s *spool) read(max int) ([][]byte, error) {
	s.mu.Lock()
	var seg segment
	found := false
	for _, g := range s.segs {
		if s.rseq < g.base && g.count > 0 {
			s.rseq = g.base // skip a gap left by a segment cut short by corruption
		}
		if s.rseq >= g.base && s.rseq < g.base+g.count {
			seg, found = g, true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return nil, nil
	}
	if s.rfile == nil || s.rbase != seg.base {
		if s.rfile != nil {
			_ = s.rfile.Close()
		}
		f, err := os.Open(seg.path(s.dir))
		if err != nil {
			return nil, fmt.Errorf("metering: spool: %w", err)
		}
		s.rfile, s.rbase, s.roff = f, seg.base, 0
		// Skip the records before rseq (after a restart, the acknowledged prefix).
		r := bufio.NewReader(io.NewSectionReader(f, 0, seg.size))
		for i := seg.base; i < s.rseq; i++ {
			n, err := skipFrame(r)
			if err != nil {
				return nil, fmt.Errorf("metering: spool: %w", err)
			}
			s.roff += n
		}
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.rfile, s.roff, seg.size-s.roff), 64<<10)
	var out [][]byte
	for len(out) < max && s.rseq < seg.base+seg.count {
		rec, n, err := readFrame(r, nil)
		if err != nil {
			return out, fmt.Errorf("metering: spool: %w", err)
		}
		out = append(out, rec)
		s.roff += n
		s.rseq++
	}
	return out, nil
}

// ack acknowledges every record read so far: it persists the position and deletes segments
// that hold only acknowledged records.
func (s *spool) ack() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rseq == s.acked {
		return nil
	}
	s.acked = s.rseq
	if err := s.writeAck(); err != nil {
		return err
	}
	for len(s.segs) > 1 && s.segs[0].base+s.segs[0].count <= s.acked {
		if err := os.Remove(s.segs[0].path(s.dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("metering: spool: %w", err)
		}
		s.segs = s.segs[1:]
	}
	return nil
}

// writeAck records the acknowledged sequence by overwriting the ack file's 12 bytes in
// place. It does not fsync, and needs no rename: the ack only saves work after a restart.
// An ack older than the truth (lost in a machine crash) redelivers events the sinks
// already have, which they deduplicate by id; a torn one fails its CRC and redelivers
// everything still spooled. Opening, syncing and renaming a fresh file per batch used to
// cost more than the rest of a lane's delivery.
func (s *spool) writeAck() error {
	var b [12]byte
	binary.BigEndian.PutUint64(b[0:8], s.acked)
	binary.BigEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
	if s.ackf == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, ackFile), os.O_CREATE|os.O_RDWR, 0o640)
		if err != nil {
			return fmt.Errorf("metering: spool ack: %w", err)
		}
		s.ackf = f
	}
	if _, err := s.ackf.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("metering: spool ack: %w", err)
	}
	return nil
}

func (s *spool) readAck() error {
	b, err := os.ReadFile(filepath.Join(s.dir, ackFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metering: spool ack: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[0:8], castagnoli) != binary.BigEndian.Uint32(b[8:12]) {
		// The rename is atomic, so this is damage, not a crash: redeliver everything rather
		// than skip events; sinks deduplicate on the event id.
		return nil
	}
	s.acked = binary.BigEndian.Uint64(b[0:8])
	return nil
}

// pending is the number of appended records not yet acknowledged.
func (s *spool) pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.next - s.acked)
}

func (s *spool) progress() (uint64, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, s.acked
}

// appended returns the sequence the next appended record gets.
func (s *spool) appended() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// readPos returns the sequence of the next record read returns. Reader only.
func (s *spool) readPos() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rseq
}

// skip moves the reader past n records the caller had from elsewhere (the lane's copy of
// what was just appended). The next read from disk reopens its segment at the new place.
// Reader only.
func (s *spool) skip(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rseq += uint64(n)
	if s.rfile != nil {
		_ = s.rfile.Close()
		s.rfile = nil
	}
}

// rewind moves the reader back to the first unacknowledged record, so a batch whose
// delivery was abandoned is read again.
func (s *spool) rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rseq = s.acked
	if s.rfile != nil {
		_ = s.rfile.Close()
		s.rfile = nil
	}
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.active != nil {
		if s.sync == SyncBatch {
			err = s.active.Sync()
		}
		if cerr := s.active.Close(); err == nil {
			err = cerr
		}
		s.active = nil
	}
	if s.rfile != nil {
		_ = s.rfile.Close()
		s.rfile = nil
	}
	if s.ackf != nil {
		// A clean close leaves the ack on disk, so a restart redelivers nothing.
		if s.sync == SyncBatch {
			_ = s.ackf.Sync()
		}
		_ = s.ackf.Close()
		s.ackf = nil
	}
	if s.lock != nil {
		_ = s.lock.Close() // releases the flock
		s.lock = nil
	}
	return err
}
