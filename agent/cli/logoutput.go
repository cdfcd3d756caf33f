package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// maxLogFile is the size at which the log file is rotated (once, to .1)
// when it is opened.
const maxLogFile = 10 << 20

// LogOutput is the log handler's writer; it starts as the console and
// can be switched to a file.
type LogOutput struct {
	mu sync.Mutex
	w  io.Writer
	f  *os.File
}

// NewLogOutput returns a LogOutput writing to w.
func NewLogOutput(w io.Writer) *LogOutput { return &LogOutput{w: w} }

func (o *LogOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// ToFile sends further output to path (appending, mode 0600), first
// moving an oversized file to path.1.
func (o *LogOutput) ToFile(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogFile {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil {
		o.f.Close()
	}
	o.w, o.f = f, f
	return nil
}

// Close closes the log file, if any; later output is discarded.
func (o *LogOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f, o.w = nil, io.Discard
	return err
}
