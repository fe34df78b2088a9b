// lpg_axi_wr: write adapter of an off-chip buffer (docs/rtl.md "Off-chip buffers"): sequential element
// writes from 0 after restart (we, address, d, taken in cycles with ce = 1) packed into words of RWB bits
// (EPW elements = BPW beats of the DW-bit bus), queued (TILE words; stall, a register, while the queue is
// full), written by an AXI4 write master in bursts of BW words (BL beats): a burst is issued when BW words
// are queued, or after flush (the writing unit's done, taken with ce = 1) whatever is queued, the last word
// with byte strobes for its elements only. Element i at byte base + i*EB, little-endian, padding bits zero
// (hw_model.units.axi.axi_port_params derives every parameter).
// committed: elements acknowledged by B responses (whole words; all of them once the flushed words are
// acknowledged). idle: every element written is acknowledged (a partial word not yet flushed is not).
// error (sticky until rst, for simulation): a write to another address than the next one, a write after
// flush, or a restart while not idle (ignored then). restart resets the element count for a new run.
// MUT (tests only): 1 the third W beat repeats the second beat's data, 2 committed counts a burst's words
// when its AW is issued instead of on its B response.
module lpg_axi_wr #(
    parameter EW   = 8,
    parameter EB   = 1,
    parameter DW   = 32,
    parameter RWB  = 32,
    parameter EPW  = 4,
    parameter BPW  = 1,
    parameter BL   = 16,
    parameter BW   = 16,
    parameter TILE = 32,
    parameter AW   = 10,
    parameter MAW  = 64,
    parameter MUT  = 0
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            ce,
    input  wire            restart,
    input  wire            we,
    input  wire [AW-1:0]   address,
    input  wire [EW-1:0]   d,
    input  wire            flush,
    output wire [AW:0]     committed,
    output wire            idle,
    output reg             stall,
    output reg             error,
    input  wire [MAW-1:0]  base,
    output reg             m_axi_awvalid,
    input  wire            m_axi_awready,
    output reg  [MAW-1:0]  m_axi_awaddr,
    output reg  [7:0]      m_axi_awlen,
    output wire [2:0]      m_axi_awsize,
    output wire [1:0]      m_axi_awburst,
    output wire [0:0]      m_axi_awid,
    output wire            m_axi_awlock,
    output wire [3:0]      m_axi_awcache,
    output wire [2:0]      m_axi_awprot,
    output wire [3:0]      m_axi_awqos,
    output reg             m_axi_wvalid,
    input  wire            m_axi_wready,
    output reg  [DW-1:0]   m_axi_wdata,
    output reg  [DW/8-1:0] m_axi_wstrb,
    output reg             m_axi_wlast,
    input  wire            m_axi_bvalid,
    output wire            m_axi_bready,
    // Lint waiver: single ID, in-order; bresp is not acted upon (a simulation model answers OKAY)
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [1:0]      m_axi_bresp,
    input  wire [0:0]      m_axi_bid
    /* verilator lint_on UNUSEDSIGNAL */
);
    localparam EPW_L = (EPW > 1) ? $clog2(EPW) : 0;
    localparam BPW_L = (BPW > 1) ? $clog2(BPW) : 0;
        localparam WB_L  = $clog2(RWB / 8);
    localparam WW    = AW + 2;                 // word / element counters
    localparam TW    = (TILE > 1) ? $clog2(TILE) : 1;
    localparam BCW   = (BPW > 1) ? BPW_L : 1;
    localparam OW    = 8;                      // bursts outstanding (AW issued, B not yet received)
    localparam NB    = DW / 8;                 // strobe bits per beat
    localparam integer BW_I = BW, TILE_I = TILE, BPW_I = BPW, SIZE_I = $clog2(DW / 8);
    localparam integer BL_I = BL, EPW_M1_I = EPW - 1, WBYTES_I = RWB / 8, EB_I = EB;
    localparam [WW-1:0]  BW_W = BW_I[WW-1:0];
    localparam [WW-1:0]  TILE_W = TILE_I[WW-1:0];
    localparam [WW-1:0]  EPW_M1 = EPW_M1_I[WW-1:0];
    localparam [7:0]     BPW8 = BPW_I[7:0];
    localparam [7:0]     BL8 = BL_I[7:0];          // beats of a full burst (BW words)
    localparam [BCW-1:0] BC_LAST = BPW_I[BCW-1:0] - 1'b1;
    localparam [WW-1:0]  WBYTES = WBYTES_I[WW-1:0];
    localparam [WW-1:0]  EB_W = EB_I[WW-1:0];
    localparam integer   NB_I = NB;
    localparam [WW-1:0]  NB_W = NB_I[WW-1:0];

    assign m_axi_awsize  = SIZE_I[2:0];
    assign m_axi_awburst = 2'b01;              // INCR
    assign m_axi_awid    = 1'b0;
    assign m_axi_awlock  = 1'b0;
    assign m_axi_awcache = 4'b0011;
    assign m_axi_awprot  = 3'b000;
    assign m_axi_awqos   = 4'b0000;
    assign m_axi_bready  = 1'b1;

    reg  [WW-1:0]  ne;                         // elements written since restart (= next address)
    reg            flushed;
    reg  [WW-1:0]  pushed, awed, wsent, acked; // words queued / in issued bursts / sent on W / acknowledged
    reg  [WW-1:0]  last_bytes;                 // bytes of the last word valid (set at flush)
    reg  [OW-1:0]  bursts;                     // outstanding bursts
    reg  [RWB-1:0] queue [0:TILE-1];

    // ---- unit side: packing --------------------------------------------------------------------------------
    wire           take_w = ce & we;
    wire           take_f = ce & flush & ~flushed;
    wire [RWB-1:0] placed;                     // the packing word with d in its slot
    wire           word_full;                  // the write completes a word
    wire           partial;                    // after this cycle's write, a partial word is packed
    wire [RWB-1:0] partial_word;
    wire [WW-1:0]  partial_bytes;              // bytes of that partial word
    wire [WW-1:0]  ne_n = ne + {{(WW-1){1'b0}}, take_w};
    generate
        if (EPW > 1) begin : g_pack
            reg  [RWB-1:0]   cur;
            wire [EPW_L-1:0] slot = ne[EPW_L-1:0];
            assign placed = cur | ({{(RWB-EW){1'b0}}, d} << (slot * (8 * EB)));
            assign word_full = take_w & (slot == EPW_M1[EPW_L-1:0]);
            assign partial = (ne_n[EPW_L-1:0] != {EPW_L{1'b0}});
            assign partial_word = take_w ? placed : cur;
            assign partial_bytes = {{(WW-EPW_L){1'b0}}, ne_n[EPW_L-1:0]} * EB_W;
            always @(posedge clk) begin
                if (rst | (restart & idle)) cur <= {RWB{1'b0}};
                else if (word_full | take_f) cur <= {RWB{1'b0}};
                else if (take_w) cur <= placed;
            end
        end else begin : g_nopack
            assign placed = {{(RWB-EW){1'b0}}, d};
            assign word_full = take_w;
            assign partial = 1'b0;
            assign partial_word = placed;
            assign partial_bytes = WBYTES;
        end
    endgenerate
    wire           push = word_full | (take_f & partial);
    wire [RWB-1:0] push_word = word_full ? placed : partial_word;

    // ---- AW ------------------------------------------------------------------------------------------------
    wire [WW-1:0]  avail = pushed - awed;
    wire           aw_issue = (~m_axi_awvalid | m_axi_awready) & (bursts != {OW{1'b1}})
                            & ((avail >= BW_W) | (flushed & (avail != {WW{1'b0}})));
    // Lint waiver: a burst has at most BW words (the high bits of the count are zero)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [WW-1:0]  aw_n = (avail >= BW_W) ? BW_W : avail;
    wire [7:0]     aw_n8;             // aw_n at 8 bits (a burst never exceeds 256 beats)
    generate
        if (WW >= 8) begin : g_aw_n8_cut
            assign aw_n8 = aw_n[7:0];
        end else begin : g_aw_n8_ext
            assign aw_n8 = {{(8-WW){1'b0}}, aw_n};
        end
    endgenerate
    /* verilator lint_on UNUSEDSIGNAL */

    // ---- W: one beat register, loaded from the queue -------------------------------------------------------
    reg  [BCW-1:0] wbeat;
    wire           w_load = (~m_axi_wvalid | m_axi_wready) & (wsent != awed);
    wire           w_word_done = w_load & (wbeat == BC_LAST);
    wire [RWB-1:0] w_word = queue[wsent[TW-1:0]];
    wire [WW-1:0]  wsent_1 = wsent + 1'b1;
    wire           w_final = flushed & (wsent_1 == pushed);            // the last word of the run
    wire           w_last = (wbeat == BC_LAST) & (((wsent_1 & (BW_W - 1'b1)) == {WW{1'b0}}) | w_final);
    wire [WW-1:0]  beat_byte0 = {{(WW-BCW){1'b0}}, wbeat} * NB_W;
    reg  [NB-1:0]  w_strb;
    integer        k;
    always @(*) begin
        for (k = 0; k < NB; k = k + 1)
            w_strb[k] = ~w_final | (beat_byte0 + k[WW-1:0] < last_bytes);
    end
    wire           mut_repeat;
    generate
        if (MUT == 1) begin : g_mut
            reg [1:0] beats_loaded;
            always @(posedge clk) begin
                if (rst) beats_loaded <= 2'd0;
                else if (w_load && beats_loaded != 2'd3) beats_loaded <= beats_loaded + 2'd1;
            end
            assign mut_repeat = (beats_loaded == 2'd2);
        end else begin : g_nomut
            assign mut_repeat = 1'b0;
        end
    endgenerate

    // ---- B -------------------------------------------------------------------------------------------------
    wire [WW-1:0]  ack_inc = (MUT == 2) ? (aw_issue ? aw_n : {WW{1'b0}}) : (m_axi_bvalid ? BW_W : {WW{1'b0}});
    wire [WW-1:0]  ack_lim = (MUT == 2) ? awed + (aw_issue ? aw_n : {WW{1'b0}}) : awed;
    wire [WW-1:0]  acked_sum = acked + ack_inc;
    wire [WW-1:0]  words_written = (ne + EPW_M1) >> EPW_L;
    wire [WW-1:0]  acked_el = acked << EPW_L;
    assign idle = (acked == words_written);
    // Lint waiver: committed <= ne < 2^(AW+1)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [WW-1:0]  committed_w = (acked_el < ne) ? acked_el : ne;
    /* verilator lint_on UNUSEDSIGNAL */
    assign committed = committed_w[AW:0];

    wire           do_restart = restart & idle & ~m_axi_awvalid & ~m_axi_wvalid;
    wire [WW-1:0]  pushed_n = pushed + {{(WW-1){1'b0}}, push};
    wire [WW-1:0]  wsent_n = wsent + {{(WW-1){1'b0}}, w_word_done};

    always @(posedge clk) begin
        if (push) queue[pushed[TW-1:0]] <= push_word;
    end

    always @(posedge clk) begin
        if (rst) begin
            ne <= {WW{1'b0}}; flushed <= 1'b0; pushed <= {WW{1'b0}}; awed <= {WW{1'b0}};
            wsent <= {WW{1'b0}}; acked <= {WW{1'b0}}; bursts <= {OW{1'b0}}; wbeat <= {BCW{1'b0}};
            last_bytes <= WBYTES; stall <= 1'b0; error <= 1'b0;
            m_axi_awvalid <= 1'b0; m_axi_wvalid <= 1'b0;
        end else if (do_restart) begin
            ne <= {WW{1'b0}}; flushed <= 1'b0; pushed <= {WW{1'b0}}; awed <= {WW{1'b0}};
            wsent <= {WW{1'b0}}; acked <= {WW{1'b0}}; wbeat <= {BCW{1'b0}};
            last_bytes <= WBYTES; stall <= 1'b0;
        end else begin
            if (restart) error <= 1'b1;
            if (take_w && (ne[AW-1:0] != address || flushed || ne[AW+1:AW] != 2'b00)) error <= 1'b1;
            ne <= ne_n;
            if (take_f) begin
                flushed <= 1'b1;
                last_bytes <= partial ? partial_bytes : WBYTES;
            end
            pushed <= pushed_n;
            stall <= (pushed_n - wsent_n == TILE_W);
            // AW
            if (aw_issue) begin
                m_axi_awvalid <= 1'b1;
                m_axi_awaddr <= base + ({{(MAW-WW){1'b0}}, awed} << WB_L);
                m_axi_awlen <= ((aw_n == BW_W) ? BL8 : aw_n8 * BPW8) - 8'd1;
                awed <= awed + aw_n;
            end else if (m_axi_awready) begin
                m_axi_awvalid <= 1'b0;
            end
            bursts <= bursts + {{(OW-1){1'b0}}, aw_issue} - {{(OW-1){1'b0}}, m_axi_bvalid};
            // W
            if (w_load) begin
                m_axi_wvalid <= 1'b1;
                if (!mut_repeat) m_axi_wdata <= w_word[wbeat * DW +: DW];
                m_axi_wstrb <= w_strb;
                m_axi_wlast <= w_last;
                wbeat <= (wbeat == BC_LAST) ? {BCW{1'b0}} : wbeat + 1'b1;
            end else if (m_axi_wready) begin
                m_axi_wvalid <= 1'b0;
            end
            wsent <= wsent_n;
            // B
            acked <= (acked_sum < ack_lim) ? acked_sum : ack_lim;
        end
    end
endmodule
