#!/usr/bin/python3
"""Dump an endpoint map with Impacket, the reference for whobinds' dcerpc.

usage: epm_reference.py HOST PORT

Prints one line per entry, tab-separated:
    interface-uuid  major.minor  string-binding  annotation

This is Impacket's epm.hept_lookup loop, except that a reply whose status is
0x16c9a0d6 (ept_s_not_registered, "no more entries") ends the list and keeps
its entries. Samba ends every lookup that way; Impacket 0.10 raises on it, so
its rpcdump.py prints nothing for a Samba server (fortra/impacket#1849).
"""

import sys

from impacket.dcerpc.v5 import epm, transport
from impacket.uuid import bin_to_string

EPT_S_NOT_REGISTERED = 0x16C9A0D6


def main():
    host, port = sys.argv[1], sys.argv[2]
    rpc = transport.DCERPCTransportFactory(r"ncacn_ip_tcp:%s[%s]" % (host, port))
    rpc.set_connect_timeout(10)
    dce = rpc.get_dce_rpc()
    dce.connect()
    dce.bind(epm.MSRPC_UUID_PORTMAP)
    handle = epm.ept_lookup_handle_t()
    calls = 0
    while True:
        req = epm.ept_lookup()
        req["inquiry_type"] = epm.RPC_C_EP_ALL_ELTS
        req["object"] = epm.NULL
        req["Ifid"] = epm.NULL
        req["vers_option"] = epm.RPC_C_VERS_ALL
        req["entry_handle"] = handle
        req["max_ents"] = 500
        resp = dce.request(req, checkError=False)
        calls += 1
        for i in range(resp["num_ents"]):
            entry = resp["entries"][i]
            tower = epm.EPMTower(b"".join(entry["tower"]["tower_octet_string"]))
            floor = tower["Floors"][0]
            annotation = b"".join(entry["annotation"]).split(b"\0")[0].decode("utf-8", "replace")
            print("%s\t%d.%d\t%s\t%s" % (
                bin_to_string(floor["InterfaceUUID"]).lower(),
                floor["MajorVersion"], floor["MinorVersion"],
                epm.PrintStringBinding(tower["Floors"]),
                annotation))
        status = resp["status"]
        handle = resp["entry_handle"]
        if status == EPT_S_NOT_REGISTERED or (status == 0 and handle.isNull()):
            break
        if status != 0:
            sys.exit("ept_lookup status 0x%08x" % status)
    dce.disconnect()
    print("%d calls, last status 0x%08x" % (calls, status), file=sys.stderr)


if __name__ == "__main__":
    main()
