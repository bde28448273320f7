package iphlpapi

// This file declares the iphlpapi.dll functions x/sys lacks; mkwinsyscall
// turns them into zsyscall_windows.go. The four GetOwnerModuleFrom*Entry
// functions end in "?": Wine 8 does not export them, and their wrappers then
// return the lookup error instead of panicking (OwnerModule checks Find
// first anyway). All six return a Win32 error code, not GetLastError.
// Regenerate with `go generate -tags generate .` (see mksyscall.go).

//sys	getExtendedTCPTable(table *uint64, size *uint32, order bool, af uint32, class uint32, reserved uint32) (errcode error) = iphlpapi.GetExtendedTcpTable
//sys	getExtendedUDPTable(table *uint64, size *uint32, order bool, af uint32, class uint32, reserved uint32) (errcode error) = iphlpapi.GetExtendedUdpTable
//sys	getOwnerModuleFromTCPEntry(row *mibTCPRowOwnerModule, class uint32, buf *uint64, size *uint32) (errcode error) = iphlpapi.GetOwnerModuleFromTcpEntry?
//sys	getOwnerModuleFromTCP6Entry(row *mibTCP6RowOwnerModule, class uint32, buf *uint64, size *uint32) (errcode error) = iphlpapi.GetOwnerModuleFromTcp6Entry?
//sys	getOwnerModuleFromUDPEntry(row *mibUDPRowOwnerModule, class uint32, buf *uint64, size *uint32) (errcode error) = iphlpapi.GetOwnerModuleFromUdpEntry?
//sys	getOwnerModuleFromUDP6Entry(row *mibUDP6RowOwnerModule, class uint32, buf *uint64, size *uint32) (errcode error) = iphlpapi.GetOwnerModuleFromUdp6Entry?
