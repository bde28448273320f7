package explain

import (
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
)

func TestRangeNotes(t *testing.T) {
	host := &model.Host{OS: "windows", PortRanges: []model.PortRange{
		{Kind: model.RangeExcluded, Proto: model.TCP, Family: 4, First: 5041, Last: 5140, Owner: "Hyper-V's Host Network Service / WinNAT", Fixes: []string{"net stop winnat && net start winnat"}},
		{Kind: model.RangeAdministered, Proto: model.TCP, Family: 4, First: 50000, Last: 50059, Owner: "a persistent exclusion"},
		{Kind: model.RangeDynamic, Proto: model.TCP, Family: 4, First: 49152, Last: 65535, Owner: "Windows' pool of ephemeral ports"},
	}}
	tests := []struct {
		name  string
		host  *model.Host
		proto model.Proto
		port  int
		want  []string // substrings, one per note, in order
	}{
		{"excluded", host, model.TCP, 5041, []string{"tcp/5041 lies in the IPv4 excluded port range 5041-5140", "WSAEACCES (10013", "Fixes: net stop winnat && net start winnat"}},
		{"last port of the range", host, 0, 5140, []string{"excluded port range 5041-5140"}},
		{"administered and dynamic", host, model.TCP, 50010, []string{"administered port exclusion 50000-50059", "dynamic port range 49152-65535"}},
		{"other protocol", host, model.UDP, 5041, nil},
		{"outside", host, model.TCP, 8080, nil},
		{"unknown", &model.Host{PortRangesUnknown: "netsh printed no excluded port ranges"}, model.TCP, 8080, []string{"whether port 8080 lies in an excluded port range is unknown: netsh printed no excluded port ranges"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RangeNotes(tt.host, tt.proto, tt.port)
			joined := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(joined, w) {
					t.Errorf("RangeNotes(%v, %d) = %q; want it to contain %q", tt.proto, tt.port, got, w)
				}
			}
			if len(tt.want) == 0 && len(got) != 0 {
				t.Errorf("RangeNotes(%v, %d) = %q; want none", tt.proto, tt.port, got)
			}
		})
	}
}
