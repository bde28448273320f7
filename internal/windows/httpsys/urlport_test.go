package httpsys

import "testing"

func TestURLPort(t *testing.T) {
	tests := []struct {
		prefix string
		port   int
		ok     bool
	}{
		{"http://+:80/x/", 80, true},
		{"https://*:443/", 443, true},
		{"http://localhost/", 80, true},
		{"https://localhost/", 443, true},
		{"http://localhost", 80, true},
		{"http://localhost:8080/app/", 8080, true},
		{"HTTP://+:5985/WSMAN/", 5985, true},
		{"HTTPS://+:443/HOSTAGENT/VSWITCH/", 443, true},
		{"http://+:80/Temporary_Listen_Addresses/", 80, true},
		{"http://www.example.com:8000/", 8000, true},
		{"http://[::1]:8080/", 8080, true},
		{"http://[fe80::1%3]:81/", 81, true},
		{"http://[::1]/", 80, true},
		{"HTTP://127.0.0.1:2222:127.0.0.1/BBBB/", 2222, true}, // routing form printed by http.sys
		{"HTTP://[::1]:2222:[::1]/BBBB/", 2222, true},
		{"http://+:65535/", 65535, true},
		{"http://+:00080/", 80, true},

		{"", 0, false},
		{"+:80/", 0, false},
		{"ftp://+:21/", 0, false},
		{"http://:80/", 0, false},
		{"http:///", 0, false},
		{"http://+:/", 0, false},
		{"http://+:0/", 0, false},
		{"http://+:65536/", 0, false},
		{"http://+:-1/", 0, false},
		{"http://+:8o/", 0, false},
		{"http://+:999999/", 0, false},
		{"http://[::1/", 0, false},
		{"http://[]:80/", 0, false},
		{"http://[::1]x/", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			port, ok := URLPort(tc.prefix)
			if port != tc.port || ok != tc.ok {
				t.Errorf("URLPort(%q) = %d, %v; want %d, %v", tc.prefix, port, ok, tc.port, tc.ok)
			}
		})
	}
}
