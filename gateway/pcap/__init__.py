"""Writing protocol traces as pcap files Wireshark and tshark read (`writer.PcapWriter`)."""
