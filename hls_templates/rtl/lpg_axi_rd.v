// lpg_axi_rd: read adapter of an off-chip buffer (docs/rtl.md "Off-chip buffers"): a unit-side BRAM-like
// read port (address, rd -> q the next ce-cycle, held until the next read) in front of an AXI4 read master.
// Element i sits at byte base + i*EB (little-endian, the element in the low EW bits); the adapter moves
// words of RWB bits = EPW elements = BPW beats of the DW-bit bus, bursts of BL beats = BW words
// (hw_model.units.axi.axi_port_params derives every parameter; EPW, BPW, BW, TILE are powers of two).
//
// KIND "stream": a ring of TILE words. Window = words [lo, arrived), lo = max(s, issued - TILE), s the
//   restart word, issued / arrived the ends of the words requested / landed. A read of a word in the window
//   is a hit (no stall), so is a read of the word landing in that very cycle. Otherwise the adapter stalls:
//   if the word is in flight it waits for it; else it waits until nothing is in flight and restarts at
//   s = issued = arrived = floor(w / BW) * BW (the burst is issued in the cycle of the miss when nothing is
//   in flight). Prefetch: while issued + BW <= reader + TILE (reader
//   = word of the last read) and issued < ceil(limit / EPW), a burst of words [issued, min(next multiple of
//   BW, limit)). From reset nothing is prefetched until the first restart (base may not be set yet).
// KIND "gather": holds one word; a read of another word stalls, waits until nothing is in flight, fetches
//   that word (one burst of BPW beats) and serves it.
// ce: unit-side reads are taken only in cycles with ce = 1 (the AXI side runs every cycle). stall is a
// register: 1 from the cycle after a missing read until the cycle its data is in q. restart (any cycle, not
// gated by ce; no read is taken with it): empties the window; beats still in flight are counted and dropped
// as they arrive; nothing is issued in the restart cycle itself (limit may still be the last run's when the
// writer of the buffer restarts in the same cycle), the stream's prefetch from word 0 starts in the next.
// Stall cycles of a miss with nothing in flight: LAT + BPW * (1 + w mod BW) (stream), LAT + BPW (gather),
// LAT = cycles from the AR handshake cycle to the first R beat's cycle.
// MUT (tests only): 1 the third kept R beat after reset is lost (not counted), 2 the fifth kept beat
// carries the fourth beat's data, 3 the window's front edge is one word too far (w <= arrived),
// 4 its back edge one word too far (lo - 1), 5 restart keeps the beats in flight (no drop), 6 the stream
// prefetches in the restart cycle (with the last run's limit).
module lpg_axi_rd #(
    parameter KIND = "stream",   // "stream" or "gather"
    parameter EW   = 8,          // element bits
    parameter EB   = 1,          // bytes per element in memory (power of two)
    parameter DW   = 32,         // AXI data width
    parameter RWB  = 32,         // word bits = max(DW, 8*EB)
    parameter EPW  = 4,          // elements per word
    parameter BPW  = 1,          // beats per word
    parameter BL   = 16,         // beats per burst
    parameter BW   = 16,         // words per burst
    parameter TILE = 32,         // ring words (stream)
    parameter AW   = 10,         // element address bits
    parameter MAW  = 64,         // AXI address bits
    parameter MUT  = 0
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           ce,
    input  wire           restart,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AW:0]    limit,          // elements readable (stream); unused by a gather
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [AW-1:0]  address,
    input  wire           rd,
    output wire [EW-1:0]  q,
    output reg            stall,
    input  wire [MAW-1:0] base,
    output reg            m_axi_arvalid,
    input  wire           m_axi_arready,
    output reg  [MAW-1:0] m_axi_araddr,
    output reg  [7:0]     m_axi_arlen,
    output wire [2:0]     m_axi_arsize,
    output wire [1:0]     m_axi_arburst,
    output wire [0:0]     m_axi_arid,
    output wire           m_axi_arlock,
    output wire [3:0]     m_axi_arcache,
    output wire [2:0]     m_axi_arprot,
    output wire [3:0]     m_axi_arqos,
    input  wire           m_axi_rvalid,
    output wire           m_axi_rready,
    input  wire [DW-1:0]  m_axi_rdata,
    // Lint waiver: in-order single-ID responses; rresp / rlast / rid carry nothing the adapter needs
    // (beats are counted).
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [1:0]     m_axi_rresp,
    input  wire           m_axi_rlast,
    input  wire [0:0]     m_axi_rid
    /* verilator lint_on UNUSEDSIGNAL */
);
    localparam GATHER = (KIND == "gather");
    localparam EPW_L  = (EPW > 1) ? $clog2(EPW) : 0;
    localparam BPW_L  = (BPW > 1) ? $clog2(BPW) : 0;
    localparam BW_L   = (BW > 1) ? $clog2(BW) : 0;
    localparam WB_L   = $clog2(RWB / 8);            // log2 bytes per word
    localparam WW     = AW + 2;                     // word counters (room for limit + BW)
    localparam TW     = (TILE > 1) ? $clog2(TILE) : 1;
    localparam IFW    = $clog2(4 * TILE * BPW + 4 * BPW) + 1;   // beats in flight (incl. dropped ones)
    localparam BCW    = (BPW > 1) ? BPW_L : 1;
    localparam integer BW_I = BW, TILE_I = TILE, EPW_M1_I = EPW - 1, BPW_II = BPW, BEATS_I = BL;   // = BW * BPW
    localparam integer SIZE_I = $clog2(DW / 8);
    localparam [IFW-1:0] IF_MAX = {IFW{1'b1}};
    localparam [WW-1:0]  BW_W = BW_I[WW-1:0];
    localparam [WW-1:0]  TILE_W = TILE_I[WW-1:0];
    localparam [WW-1:0]  EPW_M1 = EPW_M1_I[WW-1:0];
    localparam [IFW-1:0] BPW_I = BPW_II[IFW-1:0];
    localparam [IFW-1:0] BURST_BEATS = BEATS_I[IFW-1:0];
    localparam [7:0]     BPW8 = BPW_II[7:0];
    localparam [BCW-1:0] BC_LAST = BPW_I[BCW-1:0] - 1'b1;

    assign m_axi_arsize  = SIZE_I[2:0];
    assign m_axi_arburst = 2'b01;       // INCR
    assign m_axi_arid    = 1'b0;
    assign m_axi_arlock  = 1'b0;
    assign m_axi_arcache = 4'b0011;     // normal non-cacheable bufferable (Vitis HLS m_axi default)
    assign m_axi_arprot  = 3'b000;
    assign m_axi_arqos   = 4'b0000;
    assign m_axi_rready  = 1'b1;        // room is reserved when a burst is issued

    // ---- R beats: drop count, beat assembly, mutations ---------------------------------------------------
    reg  [IFW-1:0] inflight;            // beats of issued bursts not yet received
    reg  [IFW-1:0] drop;                // of those, beats to discard (issued before a restart)
    reg  [BCW-1:0] bcnt;                // beat within the word being assembled
    wire           r_fire = m_axi_rvalid;
    wire           r_drop = r_fire & (drop != {IFW{1'b0}});
    wire           mut_lost;            // mutations 1 / 2 (tests only)
    wire [DW-1:0]  r_data;
    wire           r_keep = r_fire & ~r_drop & ~mut_lost;
    wire           land = r_keep & (bcnt == BC_LAST);     // the beat completes a word
    wire [RWB-1:0] land_data;
    wire [IFW-1:0] inflight_n = inflight - {{(IFW-1){1'b0}}, r_fire};
    wire           nothing = (inflight_n == {IFW{1'b0}});  // nothing in flight after this cycle's beat

    generate
        if (BPW > 1) begin : g_asm
            reg [RWB-DW-1:0] asm_r;
            always @(posedge clk) begin
                if (r_keep && bcnt != BC_LAST) asm_r[bcnt * DW +: DW] <= r_data;
            end
            assign land_data = {r_data, asm_r};
        end else begin : g_noasm
            assign land_data = r_data;
        end
    endgenerate

    generate
        if (MUT == 1 || MUT == 2) begin : g_mut
            reg [2:0]    mut_cnt;           // beats not dropped since reset, saturating
            reg [DW-1:0] mut_prev;
            always @(posedge clk) begin
                if (rst) begin
                    mut_cnt <= 3'd0;
                end else if (r_fire & ~r_drop) begin
                    if (mut_cnt != 3'd7) mut_cnt <= mut_cnt + 3'd1;
                    mut_prev <= m_axi_rdata;
                end
            end
            assign mut_lost = (MUT == 1) && (mut_cnt == 3'd2);
            assign r_data = ((MUT == 2) && (mut_cnt == 3'd4)) ? mut_prev : m_axi_rdata;
        end else begin : g_nomut
            assign mut_lost = 1'b0;
            assign r_data = m_axi_rdata;
        end
    endgenerate

    // ---- unit side: element of the word in q -------------------------------------------------------------
    wire [WW-1:0]  w = {{(WW-AW){1'b0}}, address} >> EPW_L;           // word of the read
    // Lint waiver: a gather ignores limit; q takes the low EW bits of an element's 8*EB (padding above).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [WW-1:0]  lim_w = ({{(WW-AW-1){1'b0}}, limit} + EPW_M1) >> EPW_L;
    wire [RWB-1:0] qword;
    /* verilator lint_on UNUSEDSIGNAL */
    wire           take = ce & rd & ~restart;
    generate
        if (EPW > 1) begin : g_sel
            reg [EPW_L-1:0] esel;
            always @(posedge clk) if (take) esel <= address[EPW_L-1:0];
            assign q = qword[esel * (8 * EB) +: EW];
        end else begin : g_nosel
            assign q = qword[EW-1:0];
        end
    endgenerate

    // ---- AR issue (shared by both kinds): from the next-state values of the control below ------------------
    wire           issue;              // a burst is decided this cycle
    wire [WW-1:0]  issue_word;         // its first word
    // Lint waiver: a burst has at most BW words (the high bits of the count are zero)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [WW-1:0]  issue_n;            // and its words
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk) begin
        if (rst) begin
            m_axi_arvalid <= 1'b0;
        end else if (issue) begin
            m_axi_arvalid <= 1'b1;
            m_axi_araddr  <= base + ({{(MAW-WW){1'b0}}, issue_word} << WB_L);
            m_axi_arlen   <= issue_n8 * BPW8 - 8'd1;
        end else if (m_axi_arready) begin
            m_axi_arvalid <= 1'b0;
        end
    end
    wire           ar_free = ~m_axi_arvalid | m_axi_arready;
    wire [7:0]     issue_n8;             // issue_n at 8 bits (a burst never exceeds 256 beats)
    generate
        if (WW >= 8) begin : g_issue_n8_cut
            assign issue_n8 = issue_n[7:0];
        end else begin : g_issue_n8_ext
            assign issue_n8 = {{(8-WW){1'b0}}, issue_n};
        end
    endgenerate
    wire [IFW-1:0] issue_nf;            // issue_n at IFW bits (a burst never exceeds BW words)
    generate
        if (IFW <= WW) begin : g_nf_cut
            assign issue_nf = issue_n[IFW-1:0];
        end else begin : g_nf_ext
            assign issue_nf = {{(IFW-WW){1'b0}}, issue_n};
        end
    endgenerate
    wire [IFW-1:0] issue_beats = issue_nf * BPW_I;

    always @(posedge clk) begin
        if (rst) begin
            inflight <= {IFW{1'b0}};
            drop <= {IFW{1'b0}};
            bcnt <= {BCW{1'b0}};
        end else begin
            inflight <= inflight_n + (issue ? issue_beats : {IFW{1'b0}});
            if (restart) drop <= (MUT == 5) ? {IFW{1'b0}} : inflight_n;
            else if (r_drop) drop <= drop - 1'b1;
            if (restart) bcnt <= {BCW{1'b0}};
            else if (r_keep) bcnt <= (bcnt == BC_LAST) ? {BCW{1'b0}} : bcnt + 1'b1;
        end
    end

    generate
        if (GATHER) begin : g_gather
            // ---- gather: one word ---------------------------------------------------------------------------
            reg           have, pend, fetching;
            reg  [WW-1:0] hw, pw;
            reg  [RWB-1:0] word_r;
            wire          hit = have & (w == hw);
            wire          miss = take & ~hit;
            wire [WW-1:0] want = miss ? w : pw;
            assign issue = ~restart & (miss | (pend & ~fetching)) & nothing & ar_free & (inflight_n <= IF_MAX - BPW_I);
            assign issue_word = want;
            assign issue_n = {{(WW-1){1'b0}}, 1'b1};
            assign qword = word_r;
            always @(posedge clk) begin
                if (rst) begin
                    have <= 1'b0; pend <= 1'b0; fetching <= 1'b0; stall <= 1'b0;
                end else if (restart) begin
                    have <= 1'b0; pend <= 1'b0; fetching <= 1'b0; stall <= 1'b0;
                end else begin
                    if (miss) begin
                        have <= 1'b0; pend <= 1'b1; pw <= w; stall <= 1'b1;
                    end
                    if (issue) fetching <= 1'b1;
                    if (land && pend && fetching) begin
                        word_r <= land_data; hw <= pw; have <= 1'b1;
                        pend <= 1'b0; fetching <= 1'b0; stall <= 1'b0;
                    end
                end
            end
        end else begin : g_stream
            // ---- stream: ring of TILE words -----------------------------------------------------------------
            reg  [RWB-1:0] ring [0:TILE-1];
            reg  [WW-1:0]  s, issued, arrived, reader, pw;
            reg            pend, drain, use_byp;
            reg            armed;              // no prefetch from reset until the first restart (base unknown)
            reg  [RWB-1:0] rword, byp;
            wire [WW-1:0]  back = (issued >= TILE_W) ? issued - TILE_W : {WW{1'b0}};
            wire [WW-1:0]  lo0 = (back > s) ? back : s;
            wire [WW-1:0]  lo = (MUT == 4 && lo0 != {WW{1'b0}}) ? lo0 - 1'b1 : lo0;
            wire           in_front = (MUT == 3) ? (w <= arrived) : (w < arrived);
            wire           hit = (w >= lo) & in_front;
            wire           fly = (w >= arrived) & (w < issued);
            wire           land_w = land & (w == arrived);            // the word lands in this very cycle
            wire           miss = take & ~hit & ~land_w;
            wire           miss_restart = miss & ~fly & nothing;
            wire           drain_restart = pend & drain & nothing;
            wire           rs_now = miss_restart | drain_restart;
            wire [WW-1:0]  rs_word = ((miss_restart ? w : pw) >> BW_L) << BW_L;
            wire           hold = (miss & ~fly & ~nothing) | (pend & drain & ~nothing);
            wire           mut_rs = (MUT == 6) && restart;      // mutation 6: issue in the restart cycle
            wire [WW-1:0]  issued_e = mut_rs ? {WW{1'b0}} : rs_now ? rs_word : issued;
            wire [WW-1:0]  reader_e = mut_rs ? {WW{1'b0}} : take ? w : reader;
            wire [WW-1:0]  blk_end = ((issued_e >> BW_L) + 1'b1) << BW_L;
            wire [WW-1:0]  end_w = (blk_end < lim_w) ? blk_end : lim_w;
            // not in the restart cycle: limit may still be the last run's (a writer restarting with us)
            assign issue = ar_free & (~restart | mut_rs) & (armed | rs_now | mut_rs) & ~hold & (issued_e < lim_w)
                         & (issued_e + BW_W <= reader_e + TILE_W) & (inflight_n <= IF_MAX - BURST_BEATS);
            assign issue_word = issued_e;
            assign issue_n = end_w - issued_e;
            assign qword = use_byp ? byp : rword;

            always @(posedge clk) begin
                if (land) ring[arrived[TW-1:0]] <= land_data;
                if (take & hit) rword <= ring[w[TW-1:0]];
            end

            always @(posedge clk) begin
                if (rst) begin
                    s <= {WW{1'b0}}; issued <= {WW{1'b0}}; arrived <= {WW{1'b0}}; reader <= {WW{1'b0}};
                    pend <= 1'b0; drain <= 1'b0; stall <= 1'b0; use_byp <= 1'b0; armed <= 1'b0;
                end else begin
                    if (restart | rs_now) armed <= 1'b1;
                    issued <= restart ? {WW{1'b0}} : issue ? issued_e + issue_n : issued_e;
                    reader <= restart ? {WW{1'b0}} : reader_e;
                    if (restart) begin
                        s <= {WW{1'b0}}; arrived <= {WW{1'b0}};
                        pend <= 1'b0; drain <= 1'b0; stall <= 1'b0;
                    end else begin
                        if (rs_now) begin
                            s <= rs_word; arrived <= rs_word;
                        end else if (land) begin
                            arrived <= arrived + 1'b1;
                        end
                        if (take) begin
                            if (hit) begin
                                use_byp <= 1'b0;
                            end else if (land_w) begin
                                byp <= land_data; use_byp <= 1'b1;
                            end else begin
                                pend <= 1'b1; pw <= w; stall <= 1'b1; drain <= ~fly & ~nothing;
                            end
                        end else if (pend & ~drain & land & (pw == arrived)) begin
                            byp <= land_data; use_byp <= 1'b1; pend <= 1'b0; stall <= 1'b0;
                        end
                        if (drain_restart) drain <= 1'b0;
                    end
                end
            end
        end
    endgenerate
endmodule
