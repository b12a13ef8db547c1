package kafkatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsumePythonProducer: the real sample sent by an independent client,
// kafka-python doing what the prototype did (json.dumps of each
// csv.DictReader row: every value a string, keyed by user_id;
// pyproducer.py), on 3 partitions, consumed by cartwatch consume: the
// alerts read back from the alerts topic equal cartwatch run's on the
// same file (--at-eof keep: consume never sees an end of input), as sets.
func TestConsumePythonProducer(t *testing.T) {
	c := need(t, 1)
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import kafka").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no python3 with kafka-python (.ci/run installs kafkatest/requirements.txt): %v", err)
		}
		t.Skipf("python3 with kafka-python not available (pip install -r kafkatest/requirements.txt): %v", err)
	}
	want := sampleRun(t, "5m")
	adm := kadm.NewClient(c.client(t))
	topic, alerts, group := testNames(t, adm, "pyproducer", 3)

	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "pyproducer.py")
	out, err := exec.Command(py, script, strings.Join(c.brokers, ","), topic, testrows.SamplePath).CombinedOutput()
	if err != nil {
		t.Fatalf("pyproducer.py: %v\n%s", err, out)
	}
	_, rows := sample(t)
	if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); n != len(rows) {
		t.Fatalf("pyproducer.py sent %q records, the sample has %d rows", out, len(rows))
	}
	ends := endOffsets(t, adm, topic)

	p := startConsume(t, c, "consume", "--topic", topic, "--group", group, "--alerts-topic", alerts, "--ttl", "5m")
	waitCommitted(t, adm, group, topic, ends, 40*time.Second)
	p.stop(t)

	sameSet(t, "consume on kafka-python's records", alertSet(t, readAll(t, c, adm, alerts)), want)
	// Nothing was malformed: the dead-letter topic holds nothing.
	if dlq := readAll(t, c, adm, topic+".dlq"); len(dlq) != 0 {
		t.Errorf("%d dead letters, want none: first %q", len(dlq), dlq[0].Value)
	}
}
