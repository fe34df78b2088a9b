// lpg_axi_mem: behavioural AXI4 slave (read and write) over a memory of 2^MEM_AW bytes, for testbenches only
// (fast: no Python in the loop, unlike cocotbext-axi's AxiRam). Bytes are little-endian, held as DW-bit
// words: byte a in word a / (DW/8); addresses wrap modulo the size (as AxiRam's). Full-width INCR bursts.
// Timing, with cycle c = the cycle whose signals are sampled at the c-th rising edge:
//   read: a burst whose AR handshake is in cycle c has its first R beat valid in cycle max(c + LAT, the cycle
//     after the previous burst's last beat), then one beat per cycle (while rready); bursts in order;
//   write: awready / wready high (AW before or with its W beats); the B response of a burst whose last W
//     beat is in cycle c is valid in cycle c + BLAT (in order, one per cycle at most);
//   LAT, BLAT >= 2. BP = 1: deterministic backpressure, arready / awready / wready low and rvalid / bvalid
//   held back in about one cycle of four, from 16-bit LFSRs seeded by SEED; BP = 0: none.
// With BP = 0 the cycle counts equal those of AxiRam with the latency emulation of
// sim/cocotb_tests/test_axi_adapters.py (LatencyAxiRamRead / LatencyAxiRamWrite): tests/test_axi_adapters.py.
// Contents: `load` (pulse) reads the hex file named by plusarg PLUS_INIT (one DW-bit word per line, word i
// at byte i*DW/8) into the memory, `dump` (pulse) writes the memory to the file named by PLUS_DUMP.
// error (sticky): wlast not on the burst's last beat, a narrow burst (size < DW/8) or a non-INCR burst.
module lpg_axi_mem #(
    parameter DW        = 32,
    parameter MAW       = 64,
    parameter MEM_AW    = 16,                 // bytes of memory = 2^MEM_AW
    parameter LAT       = 8,                  // AR handshake cycle -> first R beat cycle
    parameter BLAT      = 4,                  // last W beat cycle -> B cycle
    parameter BP        = 0,
    parameter SEED      = 1,
    parameter DEPTH     = 16,                 // bursts queued per channel
    parameter PLUS_INIT = "axi_mem_init=%s",
    parameter PLUS_DUMP = "axi_mem_dump=%s"
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            load,
    input  wire            dump,
    output reg             error,
    // read
    input  wire            s_axi_arvalid,
    output wire            s_axi_arready,
    // Lint waiver: addresses wrap modulo the memory's size; the low bits of a full-width burst are zero
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [MAW-1:0]  s_axi_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [7:0]      s_axi_arlen,
    input  wire [2:0]      s_axi_arsize,
    input  wire [1:0]      s_axi_arburst,
    output reg             s_axi_rvalid,
    input  wire            s_axi_rready,
    output reg  [DW-1:0]   s_axi_rdata,
    output wire [1:0]      s_axi_rresp,
    output reg             s_axi_rlast,
    // write
    input  wire            s_axi_awvalid,
    output wire            s_axi_awready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [MAW-1:0]  s_axi_awaddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [7:0]      s_axi_awlen,
    input  wire [2:0]      s_axi_awsize,
    input  wire [1:0]      s_axi_awburst,
    input  wire            s_axi_wvalid,
    output wire            s_axi_wready,
    input  wire [DW-1:0]   s_axi_wdata,
    input  wire [DW/8-1:0] s_axi_wstrb,
    input  wire            s_axi_wlast,
    output reg             s_axi_bvalid,
    input  wire            s_axi_bready,
    output wire [1:0]      s_axi_bresp
);
    localparam NB    = DW / 8;
    localparam SZ    = $clog2(NB);
    localparam WA    = MEM_AW - SZ;           // word address bits
    localparam WORDS = 1 << WA;
    localparam QW    = $clog2(DEPTH);

    assign s_axi_rresp = 2'b00;
    assign s_axi_bresp = 2'b00;

    reg [DW-1:0] mem [0:WORDS-1];
    reg [31:0]   cyc;                          // index of the current cycle
    reg [1023:0] fname;

    always @(posedge clk) begin
        if (load) begin
            if ($value$plusargs(PLUS_INIT, fname)) $readmemh(fname, mem);
            else $display("lpg_axi_mem: no +%s", PLUS_INIT);
        end
        if (dump) begin
            if ($value$plusargs(PLUS_DUMP, fname)) $writememh(fname, mem);
            else $display("lpg_axi_mem: no +%s", PLUS_DUMP);
        end
    end

    // ---- backpressure: four LFSRs, a channel is held in a cycle when its two low bits are 00 -----------------
    reg  [15:0] lf_ar, lf_r, lf_aw, lf_w, lf_b;
    function [15:0] lfsr_next(input [15:0] x);
        lfsr_next = {1'b0, x[15:1]} ^ (x[0] ? 16'hB400 : 16'h0000);
    endfunction
    wire ok_ar = (BP == 0) | (lf_ar[1:0] != 2'b00);
    wire ok_r  = (BP == 0) | (lf_r[1:0]  != 2'b00);
    wire ok_aw = (BP == 0) | (lf_aw[1:0] != 2'b00);
    wire ok_w  = (BP == 0) | (lf_w[1:0]  != 2'b00);
    wire ok_b  = (BP == 0) | (lf_b[1:0]  != 2'b00);
    always @(posedge clk) begin
        if (rst) begin
            lf_ar <= 16'hACE1 ^ SEED[15:0]; lf_r <= 16'h1D2C ^ SEED[15:0]; lf_aw <= 16'h5A5A ^ SEED[15:0];
            lf_w <= 16'h3C3C ^ SEED[15:0]; lf_b <= 16'h7E11 ^ SEED[15:0];
            cyc <= 32'd1;
        end else begin
            lf_ar <= lfsr_next(lf_ar); lf_r <= lfsr_next(lf_r); lf_aw <= lfsr_next(lf_aw);
            lf_w <= lfsr_next(lf_w); lf_b <= lfsr_next(lf_b);
            cyc <= cyc + 32'd1;
        end
    end

    // ---- read: AR queue (word address, beats, handshake cycle), one burst served at a time ------------------
    reg [WA-1:0] ar_addr [0:DEPTH-1];
    reg [8:0]    ar_len  [0:DEPTH-1];
    reg [31:0]   ar_cyc  [0:DEPTH-1];
    reg [QW:0]   ar_wp, ar_rp;
    wire         ar_full = (ar_wp - ar_rp) == DEPTH[QW:0];
    assign s_axi_arready = ~rst & ~ar_full & ok_ar;
    wire         ar_fire = s_axi_arvalid & s_axi_arready;
    reg [WA-1:0] r_addr;
    reg [8:0]    r_left;                       // beats left of the burst being served (after the one in rdata)
    wire         r_free = ~s_axi_rvalid | s_axi_rready;
    wire         head_ready = (ar_wp != ar_rp) && (cyc + 32'd1 >= ar_cyc[ar_rp[QW-1:0]] + LAT);
    always @(posedge clk) begin
        if (rst) begin
            ar_wp <= 0; ar_rp <= 0; s_axi_rvalid <= 1'b0; r_left <= 9'd0;
        end else begin
            if (ar_fire) begin
                ar_addr[ar_wp[QW-1:0]] <= s_axi_araddr[MEM_AW-1:SZ];
                ar_len[ar_wp[QW-1:0]] <= {1'b0, s_axi_arlen} + 9'd1;
                ar_cyc[ar_wp[QW-1:0]] <= cyc;
                ar_wp <= ar_wp + 1'b1;
            end
            if (r_free) begin
                if (r_left != 9'd0 && ok_r) begin
                    s_axi_rvalid <= 1'b1;
                    s_axi_rdata <= mem[r_addr];
                    s_axi_rlast <= (r_left == 9'd1);
                    r_addr <= r_addr + 1'b1;
                    r_left <= r_left - 9'd1;
                end else if (r_left == 9'd0 && head_ready && ok_r) begin
                    s_axi_rvalid <= 1'b1;
                    s_axi_rdata <= mem[ar_addr[ar_rp[QW-1:0]]];
                    s_axi_rlast <= (ar_len[ar_rp[QW-1:0]] == 9'd1);
                    r_addr <= ar_addr[ar_rp[QW-1:0]] + 1'b1;
                    r_left <= ar_len[ar_rp[QW-1:0]] - 9'd1;
                    ar_rp <= ar_rp + 1'b1;
                end else begin
                    s_axi_rvalid <= 1'b0;
                end
            end
        end
    end

    // ---- write: AW queue, W beats into memory, B queue (ready cycle) ----------------------------------------
    reg [WA-1:0] aw_addr [0:DEPTH-1];
    reg [7:0]    aw_len [0:DEPTH-1];
    reg [7:0]    w_beat, w_len;
    reg [QW:0]   aw_wp, aw_rp;
    reg [WA-1:0] w_addr;
    reg          w_open;                       // a burst is being written (w_addr valid)
    wire         aw_full = (aw_wp - aw_rp) == DEPTH[QW:0];
    assign s_axi_awready = ~rst & ~aw_full & ok_aw;
    wire         aw_fire = s_axi_awvalid & s_axi_awready;
    wire         aw_known = w_open | (aw_wp != aw_rp) | aw_fire;
    assign s_axi_wready = ~rst & ok_w & aw_known;     // W beats wait for their AW
    wire         w_fire = s_axi_wvalid & s_axi_wready;   // (implies aw_known)
    wire [WA-1:0] w_word = w_open ? w_addr
                         : (aw_wp != aw_rp) ? aw_addr[aw_rp[QW-1:0]] : s_axi_awaddr[MEM_AW-1:SZ];
    wire [7:0]   w_len_now = w_open ? w_len : (aw_wp != aw_rp) ? aw_len[aw_rp[QW-1:0]] : s_axi_awlen;
    wire [7:0]   w_beat_now = w_open ? w_beat : 8'd0;
    reg          w_bad;
    reg [31:0]   b_cyc [0:DEPTH-1];
    reg [QW:0]   b_wp, b_rp;
    integer      i;
    always @(posedge clk) begin
        if (rst) begin
            aw_wp <= 0; aw_rp <= 0; w_open <= 1'b0; b_wp <= 0; b_rp <= 0; s_axi_bvalid <= 1'b0; w_bad <= 1'b0;
        end else begin
            if (aw_fire) begin
                aw_addr[aw_wp[QW-1:0]] <= s_axi_awaddr[MEM_AW-1:SZ];
                aw_len[aw_wp[QW-1:0]] <= s_axi_awlen;
                aw_wp <= aw_wp + 1'b1;
            end
            if (w_fire) begin
                for (i = 0; i < NB; i = i + 1)
                    if (s_axi_wstrb[i]) mem[w_word][i*8 +: 8] <= s_axi_wdata[i*8 +: 8];
                if (!w_open) aw_rp <= aw_rp + 1'b1;          // the burst's AW leaves the queue
                w_open <= ~s_axi_wlast;
                w_addr <= w_word + 1'b1;
                w_len <= w_len_now;
                w_beat <= w_beat_now + 8'd1;
                if (s_axi_wlast != (w_beat_now == w_len_now)) w_bad <= 1'b1;
                if (s_axi_wlast) begin
                    b_cyc[b_wp[QW-1:0]] <= cyc;
                    b_wp <= b_wp + 1'b1;
                end
            end
            if (~s_axi_bvalid | s_axi_bready) begin
                if ((b_wp != b_rp) && (cyc + 32'd1 >= b_cyc[b_rp[QW-1:0]] + BLAT) && ok_b) begin
                    s_axi_bvalid <= 1'b1;
                    b_rp <= b_rp + 1'b1;
                end else begin
                    s_axi_bvalid <= 1'b0;
                end
            end
        end
    end

    always @(posedge clk) begin
        if (rst) error <= 1'b0;
        else if (w_bad || (ar_fire && (s_axi_arsize != SZ[2:0] || s_axi_arburst != 2'b01))
                 || (aw_fire && (s_axi_awsize != SZ[2:0] || s_axi_awburst != 2'b01))) error <= 1'b1;
    end
endmodule
