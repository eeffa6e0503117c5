-- Registers a Lua silly node in the directory that Rust `cluster` nodes
-- read from etcd (cluster-membership's etcd backend), so that they find
-- it and call it by name.
--
--   silly examples/silly_register.lua --etcd=127.0.0.1:2379 \
--         --name=silly-1 --addr=127.0.0.1:9001
--
-- Run it in (or next to) the silly node that listens on --addr and serves
-- silly's interop schema (examples/silly_interop/interop.zproto); then
--   cargo run --example discovery --features etcd -- \
--         --etcd http://127.0.0.1:2379 --call silly-1
-- calls it by name.
--
-- The layout (see cluster-membership's crate docs):
--   key   /cluster/<cluster>/nodes/<name>
--   value JSON {"addr", "services":[{"name","commands":[[method,id],...]}],
--               "wire", "caps", "epoch", "role"}, attached to a lease.
-- Rust nodes claim a name in one transaction (create only if absent).
-- silly.store.etcd has no transaction call, so this script checks that
-- the name is free and then puts it: between the two, another node could
-- take the name; give silly nodes names no other node uses.

local silly = require "silly"
local env = require "silly.env"
local etcd = require "silly.store.etcd"
local json = require "silly.encoding.json"
local signal = require "silly.signal"
local task = require "silly.task"

local CLUSTER <const> = "demo"
local TTL <const> = 10 -- seconds, as the Rust nodes' default

local name = assert(env.get("name"), "--name=NODE is required")
local addr = assert(env.get("addr"), "--addr=HOST:PORT is required")
local key = "/cluster/" .. CLUSTER .. "/nodes/" .. name

local record = {
	addr = addr,
	-- Command ids are the request messages' protocol tags.
	services = {
		{ name = "Interop", commands = {
			{ "ping", 0x01 }, { "add", 0x03 }, { "sleep", 0x05 },
			{ "notify", 0x07 }, { "stats", 0x08 },
		} },
	},
	wire = "v1",
	-- "caps" is left out: an empty Lua table may encode as {} instead
	-- of [], and the field is optional.
	epoch = os.time() * 1000,
	role = "silly",
}

task.fork(function()
	local client = etcd.newclient { endpoints = { env.get("etcd") or "127.0.0.1:2379" } }
	local held = assert(client:get { key = key })
	if held.kvs[1] then
		print("name " .. name .. " is taken by " .. held.kvs[1].value)
		silly.exit(1)
		return
	end
	local lease = assert(client:grant { TTL = TTL })
	-- Renewed in the background until revoked.
	client:keepalive(lease.ID)
	assert(client:put { key = key, value = json.encode(record), lease = lease.ID })
	print("registered " .. key .. " -> " .. addr)

	-- Deregister first on the way out: the key goes with the lease.
	local function leave()
		client:revoke { ID = lease.ID }
		silly.exit(0)
	end
	signal("SIGINT", leave)
	signal("SIGTERM", leave)
end)
