// lpg_transform: the transform unit of one layer, lin[n, h, :] = requant(x[n, :] @ W[h]).
// P_OUT dot-product lanes (lpg_dot) of P_IN multipliers each. Loop nest, one step per cycle:
//   for n < num_nodes, for h < HEADS, for og < OG, for ig < IG
// where IG = ceil(F_IN/P_IN) input groups and OG = ceil(F_OUT/P_OUT) output groups, so the unit
// takes num_nodes * HEADS * OG * IG cycles plus the pipeline depth (6), plus its waits for rows (DIRECT = 0).
// Pipeline: issue (row / weight addresses) -> memory data -> operand registers -> dot products ->
// accumulators -> re-quantised group shifted into the row register; a finished row
// (all OG groups of one (n, h)) is written to the linear-output buffer at n*HEADS + h.
// The weight ROM word at (h*OG + og)*IG + ig holds W[h][ig*P_IN + k][og*P_OUT + j] at bits
// [(j*P_IN + k)*WW +: WW] (zero beyond the layer's shape). Inputs beyond F_IN read as zero.
// Unsigned operands are zero-extended by one bit, so all arithmetic is signed.
// Input source (DIRECT):
//   0: an on-chip row buffer, one node row per word (x_raddr = n, x_rdata = the whole row of F_IN
//      elements); the P_IN slice of group ig is selected with a multiplexer. The unit follows the
//      previous layer's aggregation, which writes the buffer in node order while this unit runs: it issues
//      row n's steps only once n < rows_ready (the rows written so far) and waits otherwise.
//   1: the host memory itself, P_IN banked ap_memory read ports sharing one address (an interface array
//      partitioned cyclic by P_IN): bank k holds element (n, ig*P_IN + k) at n*IG + ig, so
//      x_raddr = n*IG + ig (HAW bits) and x_rdata = the P_IN bank outputs (bank k at [k*XW +: XW]).
//      Lanes beyond F_IN in the last group (padding words of the host array) are masked to zero here.
// Stages 2.. (operands to row write, and done) are lpg_transform_core, below, which the sparse read of layer 0
// (lpg_sparse_transform.v) shares.
// ce: the design's clock enable (ce = 0: no register, ROM or pipeline stage changes; reset still acts).
// x_re: read enable of the input (row buffer or host banks), high in the cycles whose data the unit uses in
// the next ce-cycle (its steps).
module lpg_transform #(
    parameter NW          = 8,    // width of num_nodes and of node addresses
    parameter XW          = 8,    // stored input element width
    parameter X_SIGNED    = 1,
    parameter F_IN        = 8,
    parameter P_IN        = 4,
    parameter IG          = 2,
    parameter F_OUT       = 8,
    parameter P_OUT       = 4,
    parameter OG          = 2,
    parameter HEADS       = 1,
    parameter WW          = 8,    // stored weight width (two's complement; binary 1, ternary 2)
    parameter WKIND       = 0,    // 0 fix, 1 binary, 2 ternary
    parameter MULT_MAP    = 0,    // 0 auto, 1 LUT, 2 DSP
    parameter SW          = 24,   // dot-product sum width
    parameter ACC_W       = 28,   // accumulator width
    parameter SHIFT       = 0,    // acc frac - linear frac
    parameter LW          = 8,    // linear output width
    parameter L_SIGNED    = 1,
    parameter ROUND       = 1,
    parameter LAW         = 8,    // linear buffer address width
    parameter WAW         = 4,    // weight ROM address width
    parameter DIRECT      = 0,    // 1: read P_IN banked host ports (layer 0), 0: an on-chip row buffer
    parameter HAW         = 8,    // host address width (DIRECT = 1)
    parameter MASK_MUT    = 0,    // test-only mutation: 1 drops the padding-lane mask (DIRECT = 1)
    parameter WEIGHT_FILE = "w.mem"
) (
    input  wire                  clk,
    input  wire                  ce,
    input  wire                  rst,
    input  wire                  start,
    output wire                  done,
    input  wire [NW-1:0]         num_nodes,
    // Lint waiver: DIRECT = 1 (layer 0) reads the host's rows, all there from the start.
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [NW-1:0]         rows_ready,     // DIRECT = 0: rows of the row buffer written so far
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [(DIRECT != 0 ? HAW : NW)-1:0]       x_raddr,
    output wire                  x_re,
    input  wire [(DIRECT != 0 ? P_IN : F_IN)*XW-1:0] x_rdata,
    output wire                  lin_we,
    output wire [LAW-1:0]        lin_waddr,
    output wire [F_OUT*LW-1:0]   lin_wdata
);
    localparam IGW   = (IG > 1) ? $clog2(IG) : 1;
    localparam OGW   = (OG > 1) ? $clog2(OG) : 1;
    localparam HW    = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam WDEP  = HEADS * OG * IG;
    localparam WROW  = P_OUT * P_IN * WW;

    localparam integer IG_LAST_I = IG - 1;
    localparam integer OG_LAST_I = OG - 1;
    localparam integer H_LAST_I  = HEADS - 1;
    localparam [IGW-1:0] IG_LAST = IG_LAST_I[IGW-1:0];
    localparam [OGW-1:0] OG_LAST = OG_LAST_I[OGW-1:0];
    localparam [HW-1:0]  H_LAST  = H_LAST_I[HW-1:0];

    // ---- issue stage: loop counters -------------------------------------------------------------
    reg           running;
    reg [NW-1:0]  n;
    reg [HW-1:0]  h;
    reg [OGW-1:0] og;
    reg [IGW-1:0] ig;
    reg [WAW-1:0] k;
    genvar gm;

    wire last_ig = (ig == IG_LAST);
    wire last_og = (og == OG_LAST);
    wire last_h  = (h == H_LAST);
    wire last_n  = (n == num_nodes - 1'b1);
    wire step    = running & ((DIRECT != 0) | (n < rows_ready));   // a step issues (else: wait for row n)
    wire adv     = ce | rst;   // registers with an inline reset advance in ce-cycles and on reset
    assign x_re  = step;

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            n <= {NW{1'b0}}; h <= {HW{1'b0}}; og <= {OGW{1'b0}}; ig <= {IGW{1'b0}}; k <= {WAW{1'b0}};
        end else if (!ce) begin
            // stalled: hold
        end else if (start) begin
            running <= (num_nodes != {NW{1'b0}});
            n <= {NW{1'b0}}; h <= {HW{1'b0}}; og <= {OGW{1'b0}}; ig <= {IGW{1'b0}}; k <= {WAW{1'b0}};
        end else if (step) begin
            k <= k + 1'b1;
            if (!last_ig) begin
                ig <= ig + 1'b1;
            end else begin
                ig <= {IGW{1'b0}};
                if (!last_og) begin
                    og <= og + 1'b1;
                end else begin
                    og <= {OGW{1'b0}};
                    if (!last_h) begin
                        h <= h + 1'b1;
                    end else begin
                        h <= {HW{1'b0}};
                        k <= {WAW{1'b0}};
                        if (last_n) running <= 1'b0;
                        else n <= n + 1'b1;
                    end
                end
            end
        end
    end

    // x_raddr: node row (buffer) or n*IG + ig (host banks; the base n*IG steps by IG with n)
    generate
        if (DIRECT != 0) begin : g_haddr
            localparam integer IG_I = IG;
            localparam [HAW-1:0] IG_C = IG_I[HAW-1:0];
            reg [HAW-1:0] base;
            always @(posedge clk) begin
                if (rst || (ce && start)) base <= {HAW{1'b0}};
                else if (ce && step && last_ig && last_og && last_h && !last_n) base <= base + IG_C;
            end
            if (IG == 1) begin : g_ig1
                assign x_raddr = base;
            end else if (HAW > IGW) begin : g_igx
                assign x_raddr = base + {{(HAW-IGW){1'b0}}, ig};
            end else begin : g_igs
                assign x_raddr = base + ig[HAW-1:0];
            end
        end else begin : g_raddr
            assign x_raddr = n;
        end
    endgenerate

    wire [WROW-1:0] w_q;
    lpg_rom #(.W(WROW), .D(WDEP), .AW(WAW), .INIT_FILE(WEIGHT_FILE)) u_wrom (
        .clk(clk), .ce(ce), .addr(k), .q(w_q));

    // ---- stage 1: memory data valid ---------------------------------------------------------------
    reg           v1, first1, last1, lastog1;
    reg [NW-1:0]  n1;
    reg [HW-1:0]  h1;
    reg [IGW-1:0] ig1;
    always @(posedge clk) if (adv) begin
        v1 <= step & ~rst & ~start;
        first1 <= (ig == {IGW{1'b0}});
        last1 <= last_ig;
        lastog1 <= last_og;
        n1 <= n;
        h1 <= h;
        ig1 <= ig;
    end

    // ---- operand select (into the core's stage 2 registers) --------------------------------------------
    wire [P_IN*XW-1:0] x1;
    generate
        if (DIRECT != 0) begin : g_xdirect
            // host banks: lanes k with (IG-1)*P_IN + k >= F_IN of the last group are padding -> zero
            localparam integer LAST_LANES = F_IN - (IG - 1) * P_IN;
            wire [P_IN*XW-1:0] last_mask;
            for (gm = 0; gm < P_IN; gm = gm + 1) begin : g_mask
                assign last_mask[gm*XW +: XW] = (gm < LAST_LANES || MASK_MUT != 0) ? {XW{1'b1}} : {XW{1'b0}};
            end
            assign x1 = (ig1 == IG_LAST) ? (x_rdata & last_mask) : x_rdata;
        end else begin : g_xbuf
            localparam XPAD = IG * P_IN * XW;
            wire [XPAD-1:0] x_pad;
            if (XPAD > F_IN * XW) begin : g_xpad
                assign x_pad = {{(XPAD - F_IN * XW){1'b0}}, x_rdata};
            end else begin : g_xnopad
                assign x_pad = x_rdata;
            end
            assign x1 = x_pad[ig1 * (P_IN * XW) +: P_IN * XW];
        end
    endgenerate

    lpg_transform_core #(
        .NW(NW), .XW(XW), .X_SIGNED(X_SIGNED), .P_IN(P_IN), .F_OUT(F_OUT), .P_OUT(P_OUT), .OG(OG),
        .HEADS(HEADS), .WW(WW), .WKIND(WKIND), .MULT_MAP(MULT_MAP), .SW(SW), .ACC_W(ACC_W), .SHIFT(SHIFT),
        .LW(LW), .L_SIGNED(L_SIGNED), .ROUND(ROUND), .LAW(LAW)
    ) u_core (
        .clk(clk), .ce(ce), .rst(rst), .start(start), .issuing(running), .done(done),
        .v1(v1), .first1(first1), .last1(last1), .lastog1(lastog1), .n1(n1), .h1(h1), .x1(x1), .w1(w_q),
        .lin_we(lin_we), .lin_waddr(lin_waddr), .lin_wdata(lin_wdata));
endmodule


// lpg_transform_core: stages 2.. of a transform unit, shared by the dense (lpg_transform) and the sparse
// (lpg_sparse_transform) input reads: operand registers -> dot products (P_OUT lpg_dot lanes of P_IN
// multipliers) -> accumulators -> re-quantised group shifted into the row register -> row written to the
// linear buffer at n*HEADS + h; done pulses once the front end has nothing left to issue (issuing low) and
// the pipeline is empty. Stage-1 inputs (one step per cycle while v1): the P_IN operands x1 (element k at
// [k*XW +: XW]), the P_OUT x P_IN weights w1 (element j*P_IN + k at [(j*P_IN + k)*WW +: WW]), whether the
// step is the first / last of its output group's accumulation (first1 / last1), whether that group is the
// row's last (lastog1), and the row's node and head. ce: the design's clock enable (ce = 0: no register
// changes; reset still acts).
// Lint waiver: this module is lpg_transform's back end and lives in its file.
/* verilator lint_off DECLFILENAME */
module lpg_transform_core #(
    parameter NW       = 8,
    parameter XW       = 8,
    parameter X_SIGNED = 1,
    parameter P_IN     = 4,
    parameter F_OUT    = 8,
    parameter P_OUT    = 4,
    parameter OG       = 2,
    parameter HEADS    = 1,
    parameter WW       = 8,
    parameter WKIND    = 0,
    parameter MULT_MAP = 0,
    parameter SW       = 24,
    parameter ACC_W    = 28,
    parameter SHIFT    = 0,
    parameter LW       = 8,
    parameter L_SIGNED = 1,
    parameter ROUND    = 1,
    parameter LAW      = 8
) (
    input  wire                      clk,
    input  wire                      ce,
    input  wire                      rst,
    input  wire                      start,
    input  wire                      issuing,
    output reg                       done,
    input  wire                      v1,
    input  wire                      first1,
    input  wire                      last1,
    input  wire                      lastog1,
    input  wire [NW-1:0]             n1,
    input  wire [(HEADS > 1 ? $clog2(HEADS) : 1)-1:0] h1,
    input  wire [P_IN*XW-1:0]        x1,
    input  wire [P_OUT*P_IN*WW-1:0]  w1,
    output reg                       lin_we,
    output reg  [LAW-1:0]            lin_waddr,
    output wire [F_OUT*LW-1:0]       lin_wdata
);
    localparam XSW   = XW + (X_SIGNED != 0 ? 0 : 1);
    localparam HW    = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam WROW  = P_OUT * P_IN * WW;
    localparam ROWW  = OG * P_OUT * LW;
    localparam integer HEADS_I = HEADS;
    localparam [LAW-1:0] HEADS_C = HEADS_I[LAW-1:0];
    genvar gi, gj;
    reg active;
    wire adv = ce | rst;   // registers with an inline reset advance in ce-cycles and on reset

    // ---- stage 2: operands ------------------------------------------------------------------------
    reg              v2, first2, last2, lastog2;
    reg [NW-1:0]     n2;
    reg [HW-1:0]     h2;
    reg [P_IN*XW-1:0] xs2;
    reg [WROW-1:0]   w2;
    always @(posedge clk) if (adv) begin
        v2 <= v1 & ~rst;
        first2 <= first1; last2 <= last1; lastog2 <= lastog1; n2 <= n1; h2 <= h1;
        xs2 <= x1;
        w2 <= w1;
    end

    // signed operands (unsigned inputs zero-extended by one bit)
    wire [P_IN*XSW-1:0] xs2_s;
    generate
        for (gi = 0; gi < P_IN; gi = gi + 1) begin : g_xs
            if (X_SIGNED != 0) begin : g_s
                assign xs2_s[gi*XSW +: XSW] = xs2[gi*XW +: XW];
            end else begin : g_u
                assign xs2_s[gi*XSW +: XSW] = {1'b0, xs2[gi*XW +: XW]};
            end
        end
    endgenerate

    // ---- stage 3: dot products --------------------------------------------------------------------
    reg                 v3, first3, last3, lastog3;
    reg [NW-1:0]        n3;
    reg [HW-1:0]        h3;
    reg [P_OUT*SW-1:0]  dot3;
    wire [P_OUT*SW-1:0] dot_w;
    generate
        for (gj = 0; gj < P_OUT; gj = gj + 1) begin : g_lane
            lpg_dot #(.P(P_IN), .XW(XSW), .WW(WW), .WKIND(WKIND), .MULT_MAP(MULT_MAP), .SW(SW)) u_dot (
                .x(xs2_s), .w(w2[gj*P_IN*WW +: P_IN*WW]), .sum(dot_w[gj*SW +: SW]));
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        v3 <= v2 & ~rst;
        first3 <= first2; last3 <= last2; lastog3 <= lastog2; n3 <= n2; h3 <= h2;
        dot3 <= dot_w;
    end

    // ---- stage 4: accumulators --------------------------------------------------------------------
    reg                   v4, lastog4;
    reg [NW-1:0]          n4;
    reg [HW-1:0]          h4;
    reg [P_OUT*ACC_W-1:0] acc;
    generate
        for (gj = 0; gj < P_OUT; gj = gj + 1) begin : g_acc
            wire signed [SW-1:0]    d   = dot3[gj*SW +: SW];
            wire signed [ACC_W-1:0] d_e = {{(ACC_W-SW){d[SW-1]}}, d};
            always @(posedge clk) begin
                if (ce && v3) acc[gj*ACC_W +: ACC_W] <= first3 ? d_e : acc[gj*ACC_W +: ACC_W] + d_e;
            end
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        v4 <= v3 & last3 & ~rst;
        lastog4 <= lastog3; n4 <= n3; h4 <= h3;
    end

    // ---- stage 5: re-quantise the finished group, shift it into the row, write full rows ----------
    wire [P_OUT*LW-1:0] q_grp;
    generate
        for (gj = 0; gj < P_OUT; gj = gj + 1) begin : g_rq
            lpg_requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_W(LW), .OUT_SIGNED(L_SIGNED), .ROUND(ROUND)) u_rq (
                .d(acc[gj*ACC_W +: ACC_W]), .q(q_grp[gj*LW +: LW]));
        end
    endgenerate

    // Lint waiver: lanes beyond F_OUT in the last group are computed on zero weights and dropped.
    /* verilator lint_off UNUSEDSIGNAL */
    reg [ROWW-1:0] row;
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (OG > 1) begin : g_row_shift
            always @(posedge clk) if (ce && v4) row <= {q_grp, row[ROWW-1:P_OUT*LW]};
        end else begin : g_row_one
            always @(posedge clk) if (ce && v4) row <= q_grp;
        end
    endgenerate
    wire [LAW-1:0] n4_e = {{(LAW-NW){1'b0}}, n4};
    wire [LAW-1:0] h4_e = {{(LAW-HW){1'b0}}, h4};
    always @(posedge clk) if (adv) begin
        lin_we <= v4 & lastog4 & ~rst;
        lin_waddr <= n4_e * HEADS_C + h4_e;
    end
    assign lin_wdata = row[F_OUT*LW-1:0];

    // ---- done: one-cycle pulse once the last row is written ----------------------------------------
    always @(posedge clk) begin
        if (rst) begin
            active <= 1'b0;
            done <= 1'b0;
        end else if (!ce) begin
            // stalled: hold
        end else if (start) begin
            active <= 1'b1;
            done <= 1'b0;
        end else if (active && !issuing && !(v1 | v2 | v3 | v4 | lin_we)) begin
            active <= 1'b0;
            done <= 1'b1;
        end else begin
            done <= 1'b0;
        end
    end
endmodule
/* verilator lint_on DECLFILENAME */
